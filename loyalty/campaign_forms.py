"""The console's form for a mailing to one RFM segment."""

from __future__ import annotations

from wtforms import HiddenField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length

from loyalty.segment_mailings import MESSAGE_MAX, SUBJECT_MAX
from shop.analytics import rfm
from shop.form_fields import ShopForm, strip


class SegmentMailingForm(ShopForm):
    """Who (a segment), the subject and the note; the token makes a double submit harmless."""

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
    form_token = HiddenField()
