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
    if (shown && $("business-desk").hidden) load();
    $("business-desk").hidden = !shown;
  }
  new MutationObserver(follow).observe(desk, { attributes: true, attributeFilter: ["hidden"] });
  $("refresh").addEventListener("click", () => { if (!desk.hidden) load(); });
  document.addEventListener("takasago:language", () => { if (!desk.hidden) load(); });
})();
