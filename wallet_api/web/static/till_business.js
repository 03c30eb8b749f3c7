/* The business feature at the till (issue 21): points that stay local. The shop pays a supplier
   (another shop or a business, by its code or address) after seeing the supplier's registered name,
   rewards an employee or customer by member code, and runs a small programme of its own paid from
   its points (each claim number pays once). Refusals (a resident as supplier, over the city's limit,
   a programme out of points) are the API's own message; nothing is sent. */
"use strict";

(() => {
  const T = TAKASAGO;
  const $ = (id) => document.getElementById(id);
  let pending = { b2b: null, reward: null }; // what the confirm step will send
  T.addTexts({
    ja: { till_business: "取引先への支払い・ごほうび", tb_title: "取引先への支払い・ごほうび",
      tb_pay_title: "取引先へ支払う（店舗・事業者）", tb_supplier: "取引先の会員コードまたはアドレス",
      tb_reference: "請求書番号（任意・英数字）", tb_check: "確認する", tb_pay: "支払う", tb_cancel: "やめる",
      tb_reward_title: "ポイントでごほうび（従業員・お客様）", tb_member: "会員コード", tb_category: "理由",
      tb_cat_customer: "お客様へのお礼", tb_cat_commute: "自転車・徒歩通勤", tb_cat_staff: "従業員へのごほうび",
      tb_cat_eco: "エコな行動", tb_cat_community: "地域活動", tb_cat_other: "その他", tb_give: "ごほうびを送る",
      tb_programmes_title: "お店の制度（自店のポイントで還元）", tb_programme_name: "制度の名前",
      tb_programme_points: "1回のポイント", tb_programme_budget: "予算（合計ポイント）", tb_programme_create: "制度をつくる",
      tb_history: "送ったポイント", tb_limits: "残高 {balance}・支払い1回の上限 {pay}・ごほうび1回の上限 {reward}",
      tb_pay_question: "{name}（{kind}）に {amount} 支払いますか？", tb_reward_question: "{name}さんに {amount} のごほうびを送りますか？",
      tb_paid: "{name} に {amount} 支払いました。", tb_rewarded: "{name}さんに {amount} 送りました。",
      tb_kind_merchant: "店舗", tb_kind_business: "事業者", tb_award: "付与", tb_claim: "番号（任意）",
      tb_awarded: "{name}さんに {amount} 付与しました（番号 {claim}）。", tb_programme_line: "{name}：1回 {points}・付与済み {issued} / 予算 {budget}",
      tb_programme_setup: "{name}：登録中…", tb_sent_b2b: "支払い", tb_sent_reward: "ごほうび", tb_state_confirmed: "完了",
      tb_state_failed: "失敗", tb_state_sent: "送信中", tb_state_accepted: "送信中", tb_state_signed: "送信中" },
    en: { till_business: "Pay suppliers, reward people", tb_title: "Pay suppliers, reward people",
      tb_pay_title: "Pay a supplier (a shop or business)", tb_supplier: "Supplier's member code or address",
      tb_reference: "Invoice number (optional, letters and digits)", tb_check: "Check", tb_pay: "Pay", tb_cancel: "Cancel",
      tb_reward_title: "Reward in points (employees, customers)", tb_member: "Member code", tb_category: "Reason",
      tb_cat_customer: "Thanks to a customer", tb_cat_commute: "Cycling or walking to work", tb_cat_staff: "Reward for staff",
      tb_cat_eco: "Eco action", tb_cat_community: "Community work", tb_cat_other: "Other", tb_give: "Send the reward",
      tb_programmes_title: "The shop's programmes (paid from its points)", tb_programme_name: "Programme name",
      tb_programme_points: "Points per claim", tb_programme_budget: "Budget (points in all)", tb_programme_create: "Create programme",
      tb_history: "Points sent", tb_limits: "Balance {balance} · most per payment {pay} · most per reward {reward}",
      tb_pay_question: "Pay {amount} to {name} ({kind})?", tb_reward_question: "Send a reward of {amount} to {name}?",
      tb_paid: "Paid {amount} to {name}.", tb_rewarded: "Sent {amount} to {name}.",
      tb_kind_merchant: "shop", tb_kind_business: "business", tb_award: "Award", tb_claim: "Number (optional)",
      tb_awarded: "Awarded {amount} to {name} (number {claim}).", tb_programme_line: "{name}: {points} per claim · paid {issued} of {budget}",
      tb_programme_setup: "{name}: being set up…", tb_sent_b2b: "payment", tb_sent_reward: "reward", tb_state_confirmed: "done",
      tb_state_failed: "failed", tb_state_sent: "sending", tb_state_accepted: "sending", tb_state_signed: "sending" },
  });

  T.addTexts({
    ja: { tba_apply_open: "事業者（法人）として利用を申請する", tba_apply_title: "事業者（法人）の利用申請",
      tba_apply_hint: "お店ではない事業者（法人）が、ポイントで取引先に支払い、従業員やお客様にごほうびを送るためのアカウントです。市が確認してから使えます。お客様からの支払いは受け取れません。",
      tba_name: "事業者名（登録名・公開）", tba_category: "業種", tba_corporate_number: "法人番号（13桁）",
      tba_representative: "代表者の氏名（市だけが見ます）", tba_address: "所在地（市だけが見ます）", tba_submit: "申請する",
      tba_pending: "申請を受け付けました。市の確認を待っています。承認されると、この画面で支払いとごほうびができます。",
      tba_suspended: "このアカウントは利用停止中です。市役所にお問い合わせください。",
      tba_title: "事業者のポイント", tba_programmes_title: "自社の制度（自社のポイントで還元）",
      tba_whoami: "{name}（事業者・コード {code}）", tb_claim_no: "（制度の申請 番号 {claim}）", tba_ledger: "入出金の履歴",
      tba_reward_cap: "ごほうびは1回 {reward} まで（市の上限）。市民の方の会員コードで送ります。" },
    en: { tba_apply_open: "Apply as a business (法人)", tba_apply_title: "A business (法人) applies",
      tba_apply_hint: "For a business that is not a shop: pay suppliers in points and reward employees or customers. The city checks it before it can be used. It cannot take payments from customers.",
      tba_name: "Business name (registered, public)", tba_category: "Category", tba_corporate_number: "Corporate number (13 digits)",
      tba_representative: "Representative's name (only the city sees it)", tba_address: "Address (only the city sees it)", tba_submit: "Apply",
      tba_pending: "Your application was received and waits for the city. Once approved, pay and reward from this screen.",
      tba_suspended: "This account is suspended. Please contact city hall.",
      tba_title: "The business's points", tba_programmes_title: "Our programmes (paid from our points)",
      tba_whoami: "{name} (business, code {code})", tb_claim_no: " (programme claim no. {claim})", tba_ledger: "Points in and out",
      tba_reward_cap: "A reward is at most {reward} (the city's cap), sent to a resident's member code." },
  });
  let account = null; // a business account (role business) signed in: the till shows only these screens

  const fill = (key, values) => Object.entries(values).reduce((s, [k, v]) => s.replaceAll(`{${k}}`, v), T.t(key));

  const time = T.formatDateTime;

  function clearMessages(prefix) {
    for (const id of [`${prefix}-done`, `${prefix}-error`]) $(id).hidden = true;
  }

  async function limits() {
    try {
      const l = await T.call("GET", "/v1/business/limits");
      $("business-limits").textContent = fill("tb_limits", { balance: T.formatPoints(l.balance),
        pay: T.formatPoints(l.max_payment), reward: T.formatPoints(l.max_reward) });
      $("reward-cap").textContent = fill("tba_reward_cap", { reward: T.formatPoints(l.max_reward) });
    } catch (e) { $("business-limits").textContent = ""; }
  }

  async function history() {
    let rows = [];
    try { rows = await T.call("GET", "/v1/business/transfers"); } catch (e) { rows = []; }
    $("business-history").replaceChildren(...rows.map((r) => T.el("li",
      `${time(r.at)} ${T.t("tb_sent_" + r.kind)} ${r.name} ${T.formatPoints(r.amount)}${r.claim_id !== null ? fill("tb_claim_no", { claim: r.claim_id }) : ""} — ${T.t("tb_state_" + r.status) || r.status}`,
      { "data-kind": r.kind, "data-status": r.status })));
  }

  /** A business account's points in and out, from the ledger, with the date and time (JST). */
  async function ledger() {
    if (!account) return;
    let items = [];
    try { items = (await T.call("GET", "/v1/me/history?limit=20")).items; } catch (e) { items = []; }
    $("business-ledger").replaceChildren(...items.map((h) => T.el("li",
      `${T.jstTime(h.timestamp)} ${T.lang === "en" ? h.text : h.text_ja} ${h.direction === "out" ? "−" : "+"}${T.formatPoints(h.amount)}`,
      { "data-direction": h.direction })));
  }

  async function programmes() {
    let rows = [];
    try { rows = await T.call("GET", "/v1/business/programmes"); } catch (e) { rows = []; }
    $("business-programmes").replaceChildren(...rows.map((p) => {
      const li = T.el("li", p.chain_id === null
        ? fill("tb_programme_setup", { name: p.name })
        : fill("tb_programme_line", { name: p.name, points: T.formatPoints(p.points_per_claim),
          issued: T.formatPoints(p.issued), budget: T.formatPoints(p.budget) }), { "data-programme": p.id });
      if (p.chain_id !== null) {
        const form = T.el("form", "", { class: "inline award-form" });
        form.append(
          T.el("input", "", { name: "member", required: "", maxlength: "64", placeholder: T.t("tb_member"), "aria-label": T.t("tb_member") }),
          T.el("input", "", { name: "claim", type: "number", min: "0", step: "1", placeholder: T.t("tb_claim"), "aria-label": T.t("tb_claim") }),
          T.el("button", T.t("tb_award"), { type: "submit" }),
          T.el("p", "", { class: "error", role: "alert", hidden: "" }),
          T.el("p", "", { class: "notice", role: "status", hidden: "" }));
        form.addEventListener("submit", (event) => award(event, p));
        // the claim form on its own line under the programme (a phone is too narrow for both)
        form.style.gridColumn = "1 / -1";
        li.append(form);
      }
      return li;
    }));
  }

  /** The programme's line shows what it has paid, re-read after a claim (the form and its message stay). */
  async function issued(li, id) {
    try {
      const p = (await T.call("GET", "/v1/business/programmes")).find((row) => row.id === id);
      if (p && li.firstChild) li.firstChild.textContent = fill("tb_programme_line", { name: p.name,
        points: T.formatPoints(p.points_per_claim), issued: T.formatPoints(p.issued), budget: T.formatPoints(p.budget) });
    } catch (e) { /* the line stays as it was */ }
  }

  async function award(event, programme) {
    event.preventDefault();
    const form = event.target;
    const [error, done] = [form.querySelector(".error"), form.querySelector(".notice")];
    error.hidden = done.hidden = true;
    const body = { member: form.elements.member.value.trim() };
    if (form.elements.claim.value !== "") body.claim_id = Number(form.elements.claim.value);
    try {
      const data = await T.move(`/v1/business/programmes/${programme.id}/claims`, body);
      const s = data.operation.summary;
      done.textContent = fill("tb_awarded", { name: s.name, amount: T.formatPoints(s.amount), claim: s.claim_id });
      done.hidden = false;
      form.elements.member.value = form.elements.claim.value = "";
      await Promise.all([limits(), history(), ledger(), issued(form.closest("li"), programme.id)]);
    } catch (e) { T.showError(error, e); }
  }

  $("b2b-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    clearMessages("b2b");
    const f = event.target.elements;
    const body = { to: f.to.value.trim(), amount: Number(f.amount.value), reference: f.reference.value.trim() };
    try {
      const party = await T.call("POST", "/v1/business/suppliers/preview", { to: body.to, amount: body.amount });
      pending.b2b = { ...body, to: party.to, name: party.name };
      $("b2b-question").textContent = fill("tb_pay_question", { name: party.name, kind: T.t("tb_kind_" + party.kind),
        amount: T.formatPoints(body.amount) });
      $("b2b-confirm").hidden = false;
    } catch (e) { T.showError("b2b-error", e); }
  });
  $("b2b-cancel").addEventListener("click", () => { pending.b2b = null; $("b2b-confirm").hidden = true; });
  $("b2b-send").addEventListener("click", async () => {
    const p = pending.b2b;
    if (!p) return;
    $("b2b-send").disabled = true;
    try {
      await T.move("/v1/business/payments", { to: p.to, amount: p.amount, reference: p.reference }, p.key || (p.key = crypto.randomUUID()));
      $("b2b-done").textContent = fill("tb_paid", { name: p.name, amount: T.formatPoints(p.amount) });
      $("b2b-done").hidden = false;
      $("b2b-form").reset();
      pending.b2b = null;
      $("b2b-confirm").hidden = true;
      await Promise.all([limits(), history(), ledger()]);
    } catch (e) { T.showError("b2b-error", e); $("b2b-confirm").hidden = true; pending.b2b = null; }
    $("b2b-send").disabled = false;
  });

  $("reward-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    clearMessages("reward");
    const f = event.target.elements;
    const body = { member: f.member.value.trim(), amount: Number(f.amount.value), category: f.category.value };
    try {
      const party = await T.call("POST", "/v1/business/rewards/preview", { member: body.member });
      pending.reward = { ...body, name: party.name };
      $("reward-question").textContent = fill("tb_reward_question", { name: party.name, amount: T.formatPoints(body.amount) });
      $("reward-confirm").hidden = false;
    } catch (e) { T.showError("reward-error", e); }
  });
  $("reward-cancel").addEventListener("click", () => { pending.reward = null; $("reward-confirm").hidden = true; });
  $("reward-send").addEventListener("click", async () => {
    const p = pending.reward;
    if (!p) return;
    $("reward-send").disabled = true;
    try {
      await T.move("/v1/business/rewards", { member: p.member, amount: p.amount, category: p.category },
        p.key || (p.key = crypto.randomUUID()));
      $("reward-done").textContent = fill("tb_rewarded", { name: p.name, amount: T.formatPoints(p.amount) });
      $("reward-done").hidden = false;
      $("reward-form").reset();
      await Promise.all([limits(), history(), ledger()]);
    } catch (e) { T.showError("reward-error", e); }
    pending.reward = null;
    $("reward-confirm").hidden = true;
    $("reward-send").disabled = false;
  });

  $("programme-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    $("programme-error").hidden = true;
    const f = event.target.elements;
    try {
      await T.move("/v1/business/programmes", { name: f.name.value.trim(), points_per_claim: Number(f.points.value),
        budget: Number(f.budget.value) });
      event.target.reset();
      await programmes();
    } catch (e) { T.showError("programme-error", e); }
  });

  async function open() {
    T.show("business");
    delete $("business").dataset.ready;
    for (const id of ["b2b-confirm", "reward-confirm"]) $(id).hidden = true;
    for (const id of ["b2b-done", "reward-done"]) $(id).hidden = true;
    if (account) $("business-whoami").textContent = fill("tba_whoami", { name: account.name, code: account.code });
    await Promise.all([limits(), history(), programmes(), ledger()]);
    $("business").dataset.ready = "1";
  }

  /* A business account (not a shop) signed in: its state until the city approves it, then only the
     business screen — no payment QR, no customer's code, no takings or settlement (the API refuses
     them too, BUSINESS_NOT_A_SHOP). */
  async function openAccount() {
    account = await T.call("GET", "/v1/business/account");
    if (account.status !== "active") {
      T.show("business-state");
      $("business-state-name").textContent = account.name;
      $("business-state-text").textContent = T.t(account.status === "suspended" ? "tba_suspended" : "tba_pending");
      $("business-state").dataset.status = account.status;
      return;
    }
    $("business-title").dataset.t = "tba_title";
    $("business-programmes-title").dataset.t = "tba_programmes_title";
    T.translate($("business"));
    $("business-back").hidden = true;
    $("business-ledger-part").hidden = false;
    $("business-whoami").hidden = false;
    await open();
  }

  $("go-business-apply").addEventListener("click", () => T.show("business-apply"));
  $("business-apply-back").addEventListener("click", () => T.show("login"));
  $("business-apply-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const f = event.target.elements;
    const body = Object.fromEntries(["name", "category", "corporate_number", "representative", "postal_address", "login",
      "password"].map((k) => [k, f[k].value]));
    try {
      await T.call("POST", "/v1/business/applications", body);
      T.tokens.set(await T.call("POST", "/v1/auth/login", { login: body.login, password: body.password }));
      event.target.reset();
      document.getElementById("logout").hidden = false;
      await openAccount();
    } catch (e) { T.showError("business-apply-error", e); }
  });

  document.addEventListener("takasago:language", () => {
    if (!$("business").hidden) open();
    else if (account && !$("business-state").hidden) openAccount();
  });
  document.addEventListener("takasago:logged-out", () => { account = null; });
  $("logout").addEventListener("click", () => { account = null; });
  $("go-business").hidden = false;
  $("go-business").addEventListener("click", () => open());
  T.tillBusiness = { open, openAccount };
})();
