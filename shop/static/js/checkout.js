// Card payment with Stripe.js (works with Stripe itself and with localstripe):
// 1. a SetupIntent collects the card in the browser (confirmCardSetup);
// 2. the server creates and confirms the PaymentIntent for the amount it computed;
// 3. if the bank asks for 3-D Secure, confirmCardPayment finishes it and the server checks.
(function () {
  "use strict";
  const form = document.getElementById("payment-form");
  if (!form || typeof Stripe === "undefined") { return; }
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const stripe = Stripe(form.dataset.publishableKey);
  const card = stripe.elements().create("card");
  card.mount("#card-element");
  const message = document.getElementById("payment-message");
  const button = document.getElementById("pay-button");
  const newCard = document.getElementById("new-card");

  form.querySelectorAll('input[name="card"]').forEach(function (radio) {
    radio.addEventListener("change", function () { newCard.hidden = chosenCard() !== "new"; });
  });

  function chosenCard() {
    const checked = form.querySelector('input[name="card"]:checked') || form.querySelector('input[name="card"]');
    return checked ? checked.value : "new";
  }

  async function post(url, body) {
    const response = await fetch(url, {
      method: "POST",
      headers: {"Content-Type": "application/json", "X-CSRFToken": csrf},
      body: JSON.stringify(body),
      credentials: "same-origin",
    });
    let data = {};
    try { data = await response.json(); } catch (e) { data = {error: "Unexpected reply from the shop."}; }
    return data;
  }

  function fail(text) {
    message.textContent = text || "The payment did not go through.";
    button.disabled = false;
    button.removeAttribute("aria-busy");
    // Disabling the button took the focus away: give it to the message, next to the card
    // fields and the button, rather than leave keyboard users at the top of the page.
    message.focus();
  }

  async function handle(result) {
    if (result.redirect) { window.location.assign(result.redirect); return; }
    if (result.status === "requires_action" && result.client_secret) {
      await stripe.confirmCardPayment(result.client_secret);
      return handle(await post(form.dataset.completeUrl, {}));
    }
    fail(result.error || result.message);
    if (result.cancel_url) {  // the order can no longer be held: point at the way out
      const cancel = document.getElementById("cancel-order");
      if (cancel) { cancel.scrollIntoView({block: "nearest"}); cancel.querySelector("button").focus(); }
    }
  }

  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    if (button.disabled) { return; }
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
    message.textContent = "";
    try {
      const saveBox = document.getElementById("save-card");
      const saveCard = Boolean(saveBox && saveBox.checked);
      let paymentMethod = chosenCard();
      if (paymentMethod === "new") {
        const setup = await post(form.dataset.setupUrl, {save_card: saveCard});
        if (!setup.client_secret) { return fail(setup.error); }
        const confirmed = await stripe.confirmCardSetup(setup.client_secret, {payment_method: {card: card}});
        if (confirmed.error || !confirmed.setupIntent) {
          return fail(confirmed.error && confirmed.error.message ? confirmed.error.message : "Please check your card details.");
        }
        paymentMethod = confirmed.setupIntent.payment_method;
        if (typeof paymentMethod === "object" && paymentMethod) { paymentMethod = paymentMethod.id; }
      }
      await handle(await post(form.dataset.payUrl, {payment_method: paymentMethod, save_card: saveCard}));
    } catch (err) {
      fail("We could not reach the payment service. Your order is saved; please try again.");
    }
  });
})();
