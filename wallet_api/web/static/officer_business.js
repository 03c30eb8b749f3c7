/* The officer desk's business part (issue 21): register a business (法人) the officer checked — its
   public registered name and the address it holds the key of — on the ledger as kind Business (sent
   with the service's enroller key, recorded with the officer); list them with the code shops type to
   pay them. Shown with the desk (it follows #desk's visibility, as the other desk parts do). */
"use strict";

(() => {
  const T = TAKASAGO;
  const $ = (id) => document.getElementById(id);

  T.addTexts({
    ja: { ob_title: "事業者（法人）の登録",
      ob_hint: "登記などで確認した事業者を登録します。事業者は自分の鍵（アドレス）を持ち、登録後は参加店舗・事業者への支払いと従業員・お客様へのごほうびができます。",
      ob_name: "事業者名（公開される登録名）", ob_address: "事業者のアドレス（0x…）", ob_category: "業種（任意）",
      ob_register: "登録する", ob_list: "登録済みの事業者", ob_done: "{name} を登録しました（コード {code}）。",
      ob_state_confirmed: "登録済み", ob_state_failed: "失敗", ob_state_sent: "登録中", ob_state_accepted: "登録中", ob_state_signed: "登録中" },
    en: { ob_title: "Register a business (法人)",
      ob_hint: "Register a business you checked (e.g. its company registration). It holds its own key (address); once registered it can pay participating shops and businesses and reward employees and customers.",
      ob_name: "Business name (public, registered)", ob_address: "The business's address (0x…)", ob_category: "Category (optional)",
      ob_register: "Register", ob_list: "Registered businesses", ob_done: "Registered {name} (code {code}).",
      ob_state_confirmed: "registered", ob_state_failed: "failed", ob_state_sent: "registering", ob_state_accepted: "registering",
      ob_state_signed: "registering" },
  });

  T.addTexts({
    ja: { ob_apps_title: "事業者（法人）の利用申請",
      ob_apps_hint: "レジ画面から申請した事業者です。登記などを確認して承認すると、ウォレットが事業者のアドレスを台帳に「事業者」として登録します。",
      ob_app_line: "{name}（{category}）会員コード {code}・申請 {at}", ob_reason: "確認した内容・理由",
      ob_approve: "承認する", ob_reject: "却下する", ob_approved: "{name} を承認し、台帳に事業者として登録しました。",
      ob_rejected: "{name} の申請を却下しました。" },
    en: { ob_apps_title: "Businesses (法人) applying",
      ob_apps_hint: "Businesses that applied from the till site. Approve once you checked them (e.g. the company register): the wallet registers the business's address on the ledger as a business.",
      ob_app_line: "{name} ({category}) member code {code} · applied {at}", ob_reason: "What you checked, or why",
      ob_approve: "Approve", ob_reject: "Reject", ob_approved: "Approved {name}: registered on the ledger as a business.",
      ob_rejected: "Rejected {name}'s application." },
  });

  const fill = (key, values) => Object.entries(values).reduce((s, [k, v]) => s.replaceAll(`{${k}}`, v), T.t(key));

  /** Applications waiting for the desk: approve (registered on-chain as kind Business) or reject, with a reason. */
  async function applications() {
    let rows = [];
    try { rows = await T.call("GET", "/v1/officer/business-accounts?status=pending"); } catch (e) { T.showError("business-apps-error", e); }
    $("business-applications-empty").hidden = rows.length > 0;
    $("business-applications").replaceChildren(...rows.map((a) => {
      const li = T.el("li", null, { "data-id": a.id });
      li.append(T.el("span", fill("ob_app_line", { name: a.name, category: a.category || "-", code: a.code, at: T.jstTime(a.applied_at) })));
      const reason = T.el("input", null, { name: "reason", maxlength: "200", placeholder: T.t("ob_reason"), "aria-label": T.t("ob_reason") });
      const approve = T.el("button", T.t("ob_approve"), { type: "button", class: "primary approve-business" });
      const reject = T.el("button", T.t("ob_reject"), { type: "button", class: "reject-business" });
      const decide = async (how) => {
        $("business-apps-notice").hidden = $("business-apps-error").hidden = true;
        approve.disabled = reject.disabled = true;
        try {
          if (how === "approve") await T.move(`/v1/officer/business-accounts/${a.id}/approve`, { reason: reason.value.trim() });
          else await T.call("POST", `/v1/officer/business-accounts/${a.id}/reject`, { reason: reason.value.trim() });
          $("business-apps-notice").textContent = fill(how === "approve" ? "ob_approved" : "ob_rejected", { name: a.name });
          await applications();
          $("business-apps-notice").hidden = false;
        } catch (e) {
          approve.disabled = reject.disabled = false;
          T.showError("business-apps-error", e);
        }
      };
      approve.addEventListener("click", () => decide("approve"));
      reject.addEventListener("click", () => decide("reject"));
      li.append(reason, approve, reject);
      return li;
    }));
  }

  let loads = 0; // a slower, older answer never replaces a newer list

  async function load() {
    const mine = ++loads;
    let rows = [];
    try { rows = await T.call("GET", "/v1/officer/businesses"); } catch (e) { T.showError("business-desk-error", e); }
    if (mine !== loads) return;
    $("business-list-empty").hidden = rows.length > 0;
    $("business-list").replaceChildren(...rows.map((b) => {
      const li = T.el("li", `${b.code} ${b.name}${b.category ? `（${b.category}）` : ""} — ${T.t("ob_state_" + b.status)}`,
        { "data-code": b.code, "data-status": b.status });
      li.append(T.el("small", ` ${b.address}`, { class: "address" }));
      return li;
    }));
  }

  $("business-register-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    $("business-desk-notice").hidden = $("business-desk-error").hidden = true;
    const f = event.target.elements;
    const body = { name: f.name.value.trim(), address: f.address.value.trim(), category: f.category.value.trim() };
    try {
      await T.move("/v1/officer/businesses", body);
      const rows = await T.call("GET", "/v1/officer/businesses");
      const row = rows.find((b) => b.address.toLowerCase() === body.address.toLowerCase());
      $("business-desk-notice").textContent = T.t("ob_done").replace("{name}", body.name).replace("{code}", row ? row.code : "");
      event.target.reset();
      await load(); // the list holds the new business before the notice says it is registered
      $("business-desk-notice").hidden = false;
    } catch (e) { T.showError("business-desk-error", e); }
  });

  const desk = $("desk");
  function follow() {
    const shown = !desk.hidden;
    if (shown && $("business-desk").hidden) { load(); applications(); }
    $("business-desk").hidden = !shown;
  }
  new MutationObserver(follow).observe(desk, { attributes: true, attributeFilter: ["hidden"] });
  $("refresh").addEventListener("click", () => { if (!desk.hidden) { load(); applications(); } });
  document.addEventListener("takasago:language", () => { if (!desk.hidden) { load(); applications(); } });
})();
