/* Data sharing and the Well-being survey (issue 22) in the resident app: the resident sees exactly what
   the city's data platform receives about them (district, 10-year age band, whether a card is used —
   never name, address or birth date), can stop or restart sharing for research, and answers the yearly
   LWC-style Well-being survey (0-10 per item, once a year, stored apart from their account).
   The home screen's buttons belong to other features, so this script adds its own entry button there. */
"use strict";

(() => {
  const T = TAKASAGO;
  const $ = (id) => document.getElementById(id);
  const el = T.el;

  T.addTexts({
    ja: {
      rs_title: "データ提供とWell-being", rs_open: "データ提供・アンケート",
      rs_intro: "市は、ポイントの使われ方を地区・年齢層ごとに集計して、政策づくり（EBPM）に役立てています。氏名・住所・生年月日は提供されません。10人未満の集計は公開されません。地区は、地区ごとの電気の削減量・CO2（「わたしのCO2」に参加している世帯）とカード払いの集計にも使われます。",
      rs_shared: "市のデータ基盤に提供している情報", rs_district: "地区", rs_age_band: "年齢層（10歳きざみ）",
      rs_card: "カード利用", rs_yes: "あり", rs_no: "なし",
      rs_sharing: "研究用の集計に提供しています。", rs_stopped: "提供を停止しています。地区・年齢層・カード利用はデータ基盤に渡されません（ポイントの動き・電気の削減量・カード払いは、地区不明として市全体の合計にだけ含まれます）。",
      rs_stop: "研究への提供を停止する", rs_restart: "提供を再開する",
      rs_survey: "Well-beingアンケート（年1回・任意）",
      rs_scale: "0（まったくそう思わない）〜10（とてもそう思う）でお答えください。答えたくない項目は空欄のままで構いません。",
      rs_send: "回答を送る", rs_answered: "今年のアンケートには回答済みです。ありがとうございました。",
      rs_opted_out_survey: "提供を停止しているため、アンケートには答えられません。",
      rs_life_satisfaction: "全体として、今の生活に満足している", rs_happiness: "ふだん幸せだと感じている",
      rs_connectedness: "まわりの人と一緒に幸せだと感じる", rs_self_determination: "自分らしい生き方ができている",
      rs_local_attachment: "住んでいる地域に愛着がある", rs_blank: "—", rs_nothing: "1つ以上お答えください。",
    },
    en: {
      rs_title: "Data sharing and Well-being", rs_open: "Data sharing & survey",
      rs_intro: "The city counts how points are used by district and age band to make policy on evidence (EBPM). Your name, address and birth date are never shared. Nothing counting fewer than 10 people is published. Your district is also used for the district totals of electricity and CO2 saved (households in My CO2) and of card payments.",
      rs_shared: "What the city's data platform receives", rs_district: "District", rs_age_band: "Age band (10 years)",
      rs_card: "Uses a card", rs_yes: "yes", rs_no: "no",
      rs_sharing: "Shared for research statistics.", rs_stopped: "Sharing is stopped: your district, age band and card use are not given to the data platform (your points' movements, electricity saved and card payments count only in city-wide totals, as district unknown).",
      rs_stop: "Stop sharing for research", rs_restart: "Share again",
      rs_survey: "Well-being survey (once a year, optional)",
      rs_scale: "Answer from 0 (not at all) to 10 (completely). Leave out any item you prefer not to answer.",
      rs_send: "Send answers", rs_answered: "You have answered this year's survey. Thank you!",
      rs_opted_out_survey: "Sharing is stopped, so the survey is closed for you.",
      rs_life_satisfaction: "Overall, I am satisfied with my life now", rs_happiness: "I usually feel happy",
      rs_connectedness: "I feel happy together with the people around me", rs_self_determination: "I can live as myself",
      rs_local_attachment: "I feel attached to the area I live in", rs_blank: "—", rs_nothing: "Please answer at least one item.",
    },
  });

  let shared = null;

  function render() {
    if (!shared) return;
    $("rs-district").textContent = shared.district_name[T.lang] || shared.district;
    $("rs-age-band").textContent = shared.age_band;
    $("rs-card").textContent = T.t(shared.card ? "rs_yes" : "rs_no");
    $("rs-state").textContent = T.t(shared.opted_out ? "rs_stopped" : "rs_sharing");
    $("rs-toggle").textContent = T.t(shared.opted_out ? "rs_restart" : "rs_stop");
    const closed = shared.survey_answered || shared.opted_out;
    $("rs-survey").hidden = closed;
    $("rs-survey-state").hidden = !closed;
    $("rs-survey-state").textContent = T.t(shared.survey_answered ? "rs_answered" : "rs_opted_out_survey");
    $("rs-items").replaceChildren(...shared.survey_items.map((item) => {
      const label = el("label", null, { class: "rs-item" });
      const select = el("select", null, { name: item, "data-item": item });
      select.append(el("option", T.t("rs_blank"), { value: "" }));
      for (let score = 0; score <= 10; score += 1) select.append(el("option", String(score), { value: String(score) }));
      label.append(el("span", T.t(`rs_${item}`)), select);
      return label;
    }));
  }

  async function load() {
    T.show("research");
    try {
      shared = await T.call("GET", "/v1/research/me");
      render();
    } catch (e) {
      T.showError("rs-error", e);
    }
  }

  $("rs-toggle").addEventListener("click", async () => {
    try {
      shared = await T.call("PUT", "/v1/research/me", { opted_out: !shared.opted_out });
      render();
    } catch (e) {
      T.showError("rs-error", e);
    }
  });

  $("rs-survey").addEventListener("submit", async (event) => {
    event.preventDefault();
    $("rs-error").hidden = true;
    const answers = {};
    $("rs-items").querySelectorAll("select").forEach((s) => { if (s.value !== "") answers[s.dataset.item] = Number(s.value); });
    if (!Object.keys(answers).length) {
      $("rs-error").textContent = T.t("rs_nothing");
      $("rs-error").hidden = false;
      return;
    }
    try {
      await T.call("POST", "/v1/research/survey", { answers });
      shared = await T.call("GET", "/v1/research/me");
      render();
    } catch (e) {
      T.showError("rs-error", e);
    }
  });

  // the entry: a button of this feature's own, after the other home buttons
  const entry = el("button", T.t("rs_open"), { type: "button", id: "go-research", "data-t": "rs_open" });
  entry.addEventListener("click", () => load());
  const actions = document.querySelector("#home .actions");
  if (actions) actions.append(entry);
  document.addEventListener("takasago:language", render);
})();
