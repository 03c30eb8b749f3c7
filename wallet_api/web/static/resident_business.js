/* The business feature in the residents' app (issue 21): rewards received from shops and businesses
   (an employer's commute reward, a shop's thanks to a regular), with who gave them, why and when.
   Shown under the home screen only when there are any (it follows #home's visibility). */
"use strict";

(() => {
  const T = TAKASAGO;
  const $ = (id) => document.getElementById(id);

  T.addTexts({
    ja: { rb_title: "お店・事業者からのごほうび", rb_line: "{from} から {amount}（{why}）",
      rb_cat_customer: "お客様へのお礼", rb_cat_commute: "自転車・徒歩通勤", rb_cat_staff: "従業員へのごほうび",
      rb_cat_eco: "エコな行動", rb_cat_community: "地域活動", rb_cat_other: "その他", rb_cat_programme: "お店の制度" },
    en: { rb_title: "Rewards from shops and businesses", rb_line: "{amount} from {from} ({why})",
      rb_cat_customer: "thanks to a customer", rb_cat_commute: "cycling or walking to work", rb_cat_staff: "reward for staff",
      rb_cat_eco: "eco action", rb_cat_community: "community work", rb_cat_other: "other", rb_cat_programme: "the shop's programme" },
  });

  const when = T.formatDateTime;

  async function load() {
    let rows = [];
    try { rows = await T.call("GET", "/v1/business/rewards/received"); } catch (e) { rows = []; }
    rows = rows.filter((r) => r.status === "confirmed");
    $("business-received-list").replaceChildren(...rows.slice(0, 5).map((r) => T.el("li",
      `${when(r.at)} ` + T.t("rb_line").replace("{from}", r.from).replace("{amount}", T.formatPoints(r.amount))
        .replace("{why}", T.t("rb_cat_" + r.note)), { "data-reward": r.id })));
    $("business-received").hidden = rows.length === 0 || $("home").hidden;
  }

  const home = $("home");
  new MutationObserver(() => {
    if (home.hidden) $("business-received").hidden = true;
    else load();
  }).observe(home, { attributes: true, attributeFilter: ["hidden"] });
  document.addEventListener("takasago:language", () => { if (!home.hidden) load(); });
})();
