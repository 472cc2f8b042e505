"""The console's form for a mailing to one RFM segment."""

from __future__ import annotations

from wtforms import DateTimeLocalField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, Optional

from loyalty.segment_mailings import MESSAGE_MAX, SUBJECT_MAX
from shop.analytics import rfm
from shop.form_fields import DATE_TIME_FORMATS, DATE_TIME_MESSAGE, ShopForm, strip


class SegmentMailingForm(ShopForm):
    """Who (a segment), the subject, the note and when (empty: now); the token makes a
    double submit harmless."""

    segment = SelectField(
        "Segment",
        choices=[SelectChoice(segment.slug, segment.name) for segment in rfm.SEGMENT_LIST],
    )
    subject = StringField(
        "Subject",
        filters=[strip],
        validators=[
            InputRequired("Write a subject."),
            Length(max=SUBJECT_MAX, message=f"At most {SUBJECT_MAX} characters."),
        ],
    )
    message = TextAreaField(
        "Your note (plain text; a blank line starts a new paragraph)",
        filters=[strip],
        validators=[
            InputRequired("Write a note for the customers."),
            Length(max=MESSAGE_MAX, message=f"At most {MESSAGE_MAX:,} characters."),
        ],
    )
    send_at = DateTimeLocalField(
        "Send at (UTC, optional)",
        format=DATE_TIME_FORMATS,
        validators=[Optional()],
        invalid_value_message=DATE_TIME_MESSAGE,
    )
    form_token = HiddenField()


class CancelMailingForm(ShopForm):
    """Cancel a waiting mailing (only the CSRF token)."""
