/* My CO2 (脱炭素行動の見える化, issue 21) in the residents' app: link my household's smart meter with my consent
   (the text shown, the version recorded, withdrawable here at any time), see whether the city approved it,
   and each settled month: electricity used against my baseline, kWh and kg of CO2 saved, the points it paid,
   the city's total for comparison, and for a month that did not count, why in plain words and what to do. */
"use strict";

(() => {
  const T = TAKASAGO;
  const $ = (id) => document.getElementById(id);
  const el = T.el;
  let consent = null; // the consent text on screen: {version, ja, en}
  let revokeArmed = false; // 取り消す asks once more before it withdraws

  T.addTexts({
    ja: {
      co2: "わたしのCO2", co2_intro: "市からのお知らせに書かれた世帯番号（または電力メーターの計器番号）を入力し、同意事項を読んで連携してください。市が確認すると、毎月の電気の使用量とCO2の削減量がここに表示されます。",
      co2_household: "世帯番号または計器番号", co2_consent_title: "同意事項", co2_agree: "上の内容に同意します",
      co2_link: "メーターを連携する", co2_months: "月ごとの記録", co2_no_months: "まだ精算された月はありません。",
      co2_revoke: "同意を取り消す", co2_revoke_again: "もう一度押すと取り消します（この後の月は計算されません）",
      co2_pending: "世帯 {id} を連携しました（{at} に同意）。市の確認を待っています。",
      co2_approved: "世帯 {id} と連携中です（市が {at} に承認）。",
      co2_rejected: "世帯 {id} の連携は市に認められませんでした。", co2_revoked: "世帯 {id} の連携は {at} に取り消されました。",
      co2_reason: "理由：{reason}",
      co2_used: "電気の使用量 {kwh} kWh（基準 {base} kWh）", co2_saved: "削減 {kwh} kWh ／ CO2 {kg} kg",
      co2_points: "獲得ポイント", co2_points_unknown: "確認中", co2_city: "市全体：CO2 {kg} kg 削減（{n} 世帯が対象）",
      co2_excluded: "この月は対象外でした", co2_what: "どうすれば：", co2_counted: "対象",
    },
    en: {
      co2: "My CO2", co2_intro: "Type the household number on the city's letter (or your electricity meter's number), read the consent and link it. Once the city has checked it, each month's electricity use and CO2 saved appear here.",
      co2_household: "Household or meter number", co2_consent_title: "Consent", co2_agree: "I agree to the above",
      co2_link: "Link my meter", co2_months: "Month by month", co2_no_months: "No month has been settled yet.",
      co2_revoke: "Withdraw consent", co2_revoke_again: "Press again to withdraw (no further month will be counted)",
      co2_pending: "Household {id} linked (consent given {at}). Waiting for the city to check it.",
      co2_approved: "Linked to household {id} (approved by the city {at}).",
      co2_rejected: "The city did not accept the link to household {id}.", co2_revoked: "The link to household {id} was withdrawn {at}.",
      co2_reason: "Reason: {reason}",
      co2_used: "Electricity used {kwh} kWh (baseline {base} kWh)", co2_saved: "Saved {kwh} kWh / CO2 {kg} kg",
      co2_points: "Points earned", co2_points_unknown: "being checked", co2_city: "City total: {kg} kg CO2 saved ({n} households counted)",
      co2_excluded: "This month did not count", co2_what: "What to do: ", co2_counted: "counted",
    },
  });

  const kwh = (wh) => (Number(wh || 0) / 1000).toLocaleString(T.lang === "en" ? "en-GB" : "ja-JP", { minimumFractionDigits: 1, maximumFractionDigits: 1 });
  const kg = (g) => kwh(g); // grams to kg: the same thousandth, one decimal
  const when = (iso) => (iso ? T.jstTime(Date.parse(iso) / 1000) : "");
  const words = (pair) => (pair ? pair[T.lang === "en" ? "en" : "ja"] : "");

  function showLink(link) {
    const box = $("co2-link");
    const live = link && (link.status === "pending" || link.status === "approved");
    box.hidden = !link;
    $("co2-enrol").hidden = Boolean(live);
    $("co2-revoke").hidden = !live;
    $("co2-revoke").textContent = T.t("co2_revoke");
    revokeArmed = false;
    $("co2-link-reason").hidden = true;
    if (!link) return;
    const at = { pending: link.consented_at, approved: link.decided_at, revoked: link.revoked_at, rejected: link.decided_at }[link.status];
    $("co2-link-state").textContent = T.t(`co2_${link.status}`).replace("{id}", link.household_id).replace("{at}", when(at));
    box.dataset.status = link.status;
    if (link.status === "rejected" && link.decision_reason) {
      $("co2-link-reason").textContent = T.t("co2_reason").replace("{reason}", link.decision_reason);
      $("co2-link-reason").hidden = false;
    }
  }

  function monthItem(m) {
    const li = el("li", null, { class: m.reason ? "co2-excluded" : "co2-counted", "data-month": m.month, "data-reason": m.reason || "" });
    li.append(el("strong", m.month), el("span", m.reason ? T.t("co2_excluded") : T.t("co2_counted")));
    if (m.consumption_wh !== null && m.consumption_wh !== undefined) {
      const base = m.baseline_wh === null || m.baseline_wh === undefined ? "–" : kwh(m.baseline_wh);
      li.append(el("small", T.t("co2_used").replace("{kwh}", kwh(m.consumption_wh)).replace("{base}", base), { class: "co2-use" }));
    }
    if (m.reason) {
      li.append(el("p", words(m.reason_text), { class: "co2-reason" }),
        el("p", T.t("co2_what") + words(m.what_to_do), { class: "co2-todo" }));
    } else {
      li.append(el("p", T.t("co2_saved").replace("{kwh}", kwh(m.reduction_wh)).replace("{kg}", kg(m.co2_g)), { class: "co2-saved" }),
        el("p", `${T.t("co2_points")}: ${m.points === null || m.points === undefined ? T.t("co2_points_unknown") : T.formatPoints(m.points)}`, { class: "co2-points" }));
    }
    if (m.city) {
      li.append(el("small", T.t("co2_city").replace("{kg}", kg(m.city.co2_g)).replace("{n}", m.city.households_verified), { class: "co2-city" }));
    }
    // the history list is a two-column grid (text, amount): a month's lines below its heading take the full width
    li.querySelectorAll("p, small").forEach((line) => { line.style.gridColumn = "1 / -1"; line.style.margin = "0.1rem 0"; });
    return li;
  }

  async function load() {
    T.show("co2");
    try {
      const mine = await T.call("GET", "/v1/me/co2/household");
      consent = mine.consent;
      $("co2-consent-text").textContent = words(consent);
      showLink(mine.household);
      const found = await T.call("GET", "/v1/me/co2/months");
      $("co2-months").replaceChildren(...found.months.map(monthItem));
      $("co2-months-empty").hidden = found.months.length > 0;
    } catch (e) {
      T.showError("co2-error", e);
    }
  }

  $("go-co2").hidden = false;
  $("go-co2").addEventListener("click", load);
  $("co2-enrol").addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await T.call("POST", "/v1/me/co2/household", {
        household: $("co2-household").value, consent: $("co2-consent").checked, consent_version: consent ? consent.version : "",
      });
      event.target.reset();
      await load();
    } catch (e) {
      T.showError("co2-error", e);
    }
  });
  $("co2-revoke").addEventListener("click", async () => {
    if (!revokeArmed) {
      revokeArmed = true;
      $("co2-revoke").textContent = T.t("co2_revoke_again");
      return;
    }
    try {
      await T.call("POST", "/v1/me/co2/household/revoke");
      await load();
    } catch (e) {
      T.showError("co2-error", e);
    }
  });
  document.addEventListener("takasago:language", () => { if (!$("co2").hidden) load(); });
})();
