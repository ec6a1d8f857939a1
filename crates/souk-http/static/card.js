// The checkout's card form: the card goes to the vault's endpoint (never to a marketplace
// route); only the token it answers is put in the marketplace's payment form and sent.
"use strict";
(function () {
  const form = document.getElementById("card-form");
  const pay = document.getElementById("pay-form");
  if (!form || !pay) {
    return;
  }
  const error = document.getElementById("card-error");
  const show = function (text) {
    error.textContent = text;
    error.hidden = false;
  };
  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    error.hidden = true;
    const card = {
      number: form.elements.number.value.replace(/[\s-]+/g, ""),
      exp_month: Number(form.elements.exp_month.value),
      exp_year: Number(form.elements.exp_year.value),
      cvc: form.elements.cvc.value.trim(),
    };
    let answer;
    try {
      const res = await fetch(form.action, {
        method: "POST",
        credentials: "same-origin",
        headers: { "content-type": "application/json", "x-csrf-token": form.dataset.csrf },
        body: JSON.stringify(card),
      });
      answer = await res.json();
      if (!res.ok) {
        show(answer.detail || "This card cannot be used.");
        return;
      }
    } catch (_) {
      show("The card could not be sent. Check your connection and try again.");
      return;
    }
    // The card fields are cleared before the marketplace's form is sent.
    form.reset();
    document.getElementById("card-token").value = answer.token;
    pay.submit();
  });
})();
