/* The officer desk's My CO2 part (issue 21): households residents linked with their consent wait here; the
   officer confirms the meters (as the city's gateway registry lists them) and approves — from the next
   settlement on the oracle counts the household — or refuses with a reason the resident sees. Each decision
   is recorded with the officer and their role. Shown with the desk (it follows #desk's visibility). */
"use strict";

(() => {
  const T = TAKASAGO;
  const $ = (id) => document.getElementById(id);
  const el = T.el;

  T.addTexts({
    ja: {
      oc_title: "わたしのCO2：世帯の連携", oc_hint: "住民が同意して連携した世帯です。計器番号を市のゲートウェイ登録と照合してから承認してください（複数あれば ; で区切る）。承認すると次の精算から対象になります。",
      oc_approved: "承認済みの世帯", oc_member: "会員", oc_household: "世帯", oc_consent: "同意",
      oc_meters: "計器番号", oc_approve: "承認", oc_reject: "却下", oc_reason: "却下の理由（住民に表示）",
      oc_done_approve: "承認しました", oc_done_reject: "却下しました", oc_version: "同意文の版",
    },
    en: {
      oc_title: "My CO2: household links", oc_hint: "Households residents linked with their consent. Check the meter numbers against the city's gateway registry before approving (several: separate with ;). Approved households count from the next settlement.",
      oc_approved: "Approved households", oc_member: "member", oc_household: "household", oc_consent: "consent",
      oc_meters: "Meter numbers", oc_approve: "Approve", oc_reject: "Reject", oc_reason: "Reason (shown to the resident)",
      oc_done_approve: "Approved", oc_done_reject: "Rejected", oc_version: "text version",
    },
  });

  const when = T.jstTime; // common.js: 2026-12-03 14:05 JST / 2026/12/03 14:05
  const who = (h) => `${T.t("oc_member")} ${h.member_code}${h.display_name ? `（${h.display_name}）` : ""}`;

  function done(text) {
    $("co2-notice").textContent = text;
    $("co2-notice").hidden = false;
  }

  function pendingItem(h) {
    const li = el("li", null, { "data-link": h.id });
    li.append(el("span", `${who(h)} ／ ${T.t("oc_household")} ${h.household_id}`),
      el("small", `${T.t("oc_consent")}: ${when(h.consented_at)}（${T.t("oc_version")} ${h.consent_version}）`));
    const approve = el("form", null, { class: "reason co2-approve" });
    approve.append(el("input", null, { name: "meters", value: h.meter_ids.join(";"), maxlength: "600", "aria-label": T.t("oc_meters") }),
      el("button", T.t("oc_approve"), { type: "submit", class: "primary" }));
    approve.addEventListener("submit", async (event) => {
      event.preventDefault();
      const meters = approve.elements.meters.value.split(/[;,\s]+/).filter(Boolean);
      try {
        await T.call("POST", `/v1/officer/co2/households/${h.id}/approve`, { meter_ids: meters });
        await load();
        done(`${T.t("oc_done_approve")}: ${h.household_id}`);
      } catch (e) {
        T.showError("co2-desk-error", e);
      }
    });
    const reject = el("form", null, { class: "reason co2-reject" });
    reject.append(el("input", null, { name: "reason", required: "", maxlength: "200", placeholder: T.t("oc_reason"), "aria-label": T.t("oc_reason") }),
      el("button", T.t("oc_reject"), { type: "submit" }));
    reject.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        await T.call("POST", `/v1/officer/co2/households/${h.id}/reject`, { reason: reject.elements.reason.value });
        await load();
        done(`${T.t("oc_done_reject")}: ${h.household_id}`);
      } catch (e) {
        T.showError("co2-desk-error", e);
      }
    });
    for (const form of [approve, reject]) form.style.gridColumn = "1 / -1"; // full width under the line, as on a phone
    li.append(approve, reject);
    return li;
  }

  function approvedItem(h) {
    const li = el("li", null, { "data-link": h.id });
    li.append(el("span", `${who(h)} ／ ${T.t("oc_household")} ${h.household_id}`),
      el("small", `${T.t("oc_meters")}: ${h.meter_ids.join(", ")} ／ ${h.decided_at ? when(h.decided_at) : ""}`));
    return li;
  }

  async function load() {
    try {
      const pending = await T.call("GET", "/v1/officer/co2/households?status=pending");
      $("co2-pending").replaceChildren(...pending.map(pendingItem));
      $("co2-pending-empty").hidden = pending.length > 0;
      const approved = await T.call("GET", "/v1/officer/co2/households?status=approved");
      $("co2-approved").replaceChildren(...approved.map(approvedItem));
      $("co2-approved-empty").hidden = approved.length > 0;
    } catch (e) {
      T.showError("co2-desk-error", e);
    }
  }

  // The desk part is not a <section> (the desk's own screen switching would hide it): it follows #desk.
  const desk = $("desk");
  const follow = () => {
    const shown = !desk.hidden;
    if (shown && $("co2-desk").hidden) load();
    $("co2-desk").hidden = !shown;
  };
  new MutationObserver(follow).observe(desk, { attributes: true, attributeFilter: ["hidden"] });
  $("refresh").addEventListener("click", () => { if (!desk.hidden) load(); });
  document.addEventListener("takasago:language", () => { if (!desk.hidden) load(); });
  T.officerCo2 = load;
})();
