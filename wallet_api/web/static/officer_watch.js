/* The officer desk's みまもり section (issue 19): missing alerts and, one at a time with a reason, the
   sightings that belong to them; sharing an alert with the police when the family allowed it; which
   districts volunteers watched at which hours (a cell of fewer than 10 people is never shown as a
   number); the rules settlement uses; and the trail of every reading and change. */
"use strict";

(() => {
  const T = TAKASAGO;
  const $ = (id) => document.getElementById(id);
  const el = T.el;
  let districts = [];

  T.addTexts({
    ja: {
      ow_title: "みまもり", ow_alerts: "行方不明の連絡", ow_no_alerts: "連絡はありません",
      ow_coverage: "地区・時間帯ごとの見守りボランティア（過去7日）",
      ow_coverage_hint: "人数が10人未満の欄は「10人未満」と表示します（個人が特定されないため）。固定検知器の台数は＋で示します。",
      ow_rules: "ポイントのルール", ow_hours: "対象の時間帯（例 7-9,14-18）", ow_max_minutes: "1日の上限（分）",
      ow_programme: "報酬プログラム番号", ow_save: "保存", ow_saved: "保存しました", ow_trail: "みまもり記録の閲覧・変更の記録",
      ow_open: "見かけた記録を見る", ow_reason: "閲覧の理由", ow_share: "共有する", ow_share_to: "共有先（例 高砂警察署）",
      ow_share_ok: "共有リンク（この一度だけ表示）", ow_share_no: "家族の許可なし", ow_cleared: "解除済み", ow_open_state: "連絡中",
      ow_family: "家族", ow_last_seen: "最後に見かけた", ow_never: "未検知", ow_since: "連絡後の検知",
      ow_few: "10人未満", ow_district: "地区", ow_sightings_of: "見かけた記録",
    },
    en: {
      ow_title: "Watch-over", ow_alerts: "Missing alerts", ow_no_alerts: "No alerts",
      ow_coverage: "Volunteers watching by district and hour (last 7 days)",
      ow_coverage_hint: "A cell of fewer than 10 people shows “<10”, never the number, so no one can be singled out. Fixed detectors are shown as +n.",
      ow_rules: "Points rules", ow_hours: "Counted hours (e.g. 7-9,14-18)", ow_max_minutes: "Daily cap (minutes)",
      ow_programme: "Reward programme id", ow_save: "Save", ow_saved: "Saved", ow_trail: "Who read or changed watch-over records",
      ow_open: "Open sightings", ow_reason: "Reason for reading", ow_share: "Share", ow_share_to: "Share with (e.g. Takasago police)",
      ow_share_ok: "Share link (shown once)", ow_share_no: "family did not allow", ow_cleared: "cleared", ow_open_state: "open",
      ow_family: "family", ow_last_seen: "last seen", ow_never: "not seen", ow_since: "sightings since",
      ow_few: "<10", ow_district: "District", ow_sightings_of: "Sightings",
    },
  });

  const when = T.jstTime; // common.js: 2026-12-03 07:42 JST / 2026/12/03 07:42
  const place = (s) => `${s.lat.toFixed(3)}, ${s.lon.toFixed(3)}`;

  function alertItem(a) {
    const li = el("li", null, { "data-alert": a.id });
    const state = a.cleared_at ? `${T.t("ow_cleared")} ${when(a.cleared_at)}` : T.t("ow_open_state");
    li.append(el("span", `${when(a.raised_at)} ／ ${a.description} ／ ${T.t("ow_family")} ${a.family} ／ ${state}`),
      el("small", `${a.last_seen ? `${T.t("ow_last_seen")}: ${when(a.last_seen.at)} ${place(a.last_seen)}` : T.t("ow_never")}`
        + ` ／ ${T.t("ow_since")}: ${a.sightings_since_raised}`));
    const open = el("form", null, { class: "reason ow-open" });
    open.append(el("input", null, { name: "reason", required: "", maxlength: "200", placeholder: T.t("ow_reason"), "aria-label": T.t("ow_reason") }),
      el("button", T.t("ow_open"), { type: "submit" }));
    open.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        const found = await T.call("POST", `/v1/officer/watch/alerts/${a.id}/sightings`, { reason: open.elements.reason.value });
        $("ow-sightings-title").textContent = `${T.t("ow_sightings_of")}: ${a.description}`;
        $("ow-sightings-list").replaceChildren(...found.sightings.map((s) => {
          const item = el("li", null, { "data-at": String(s.at) });
          item.append(el("span", when(s.at)), el("strong", place(s)));
          return item;
        }));
        $("ow-sightings").hidden = false;
        await trail();
      } catch (e) {
        T.showError("ow-error", e);
      }
    });
    li.append(open);
    if (!a.cleared_at) {
      const share = el("form", null, { class: "reason ow-share" });
      share.append(el("input", null, { name: "granted_to", required: "", minlength: "2", maxlength: "80", placeholder: T.t("ow_share_to"), "aria-label": T.t("ow_share_to") }),
        el("button", a.share_allowed ? T.t("ow_share") : `${T.t("ow_share")}（${T.t("ow_share_no")}）`, { type: "submit" }));
      if (!a.share_allowed) share.querySelector("button").disabled = true;
      share.addEventListener("submit", async (event) => {
        event.preventDefault();
        try {
          const made = await T.call("POST", `/v1/officer/watch/alerts/${a.id}/shares`, { granted_to: share.elements.granted_to.value, hours: 24 });
          $("ow-share-link").textContent = `${T.t("ow_share_ok")}: ${location.origin}/v1/watch/shared/${made.token}`;
          $("ow-share-link").hidden = false;
          await trail();
        } catch (e) {
          T.showError("ow-error", e);
        }
      });
      li.append(share);
    }
    return li;
  }

  function coverageTable(report) {
    districts = report.districts;
    const cells = new Map(report.cells.map((c) => [`${c.district}:${c.hour}`, c]));
    const hours = Array.from({ length: 15 }, (_, i) => i + 6); // 06–20 JST
    const head = el("tr");
    head.append(el("th", T.t("ow_district")), ...hours.map((h) => el("th", String(h))));
    const rows = districts.map((d) => {
      const tr = el("tr", null, { "data-district": d.code });
      tr.append(el("th", T.lang === "en" ? d.name_en : d.name_ja));
      for (const h of hours) {
        const c = cells.get(`${d.code}:${h}`);
        let text = "";
        let cls = "";
        if (c) {
          text = c.volunteers === null ? T.t("ow_few") : (c.volunteers ? String(c.volunteers) : "");
          if (c.fixed_detectors) text += `${text ? " " : ""}+${c.fixed_detectors}`;
          cls = c.volunteers === null ? "few" : (c.volunteers ? "watched" : "");
        }
        tr.append(el("td", text, { class: cls, "data-hour": String(h) }));
      }
      return tr;
    });
    $("ow-coverage").replaceChildren(head, ...rows);
  }

  async function trail() {
    const entries = await T.call("GET", "/v1/officer/watch/trail?limit=30");
    $("ow-trail").replaceChildren(...entries.map((e) => el("li", [when(e.at), e.actor, e.action, e.reason].filter(Boolean).join(" ／ "),
      { "data-action": e.action })));
  }

  async function load() {
    try {
      const alerts = await T.call("GET", "/v1/officer/watch/alerts?days=7");
      $("ow-alerts").replaceChildren(...alerts.map(alertItem));
      $("ow-alerts-empty").hidden = alerts.length > 0;
      coverageTable(await T.call("GET", "/v1/officer/watch/coverage?days=7"));
      const rules = await T.call("GET", "/v1/officer/watch/rules");
      const f = $("ow-rules-form").elements;
      f.hours.value = rules.hours;
      f.max_minutes_per_day.value = rules.max_minutes_per_day;
      f.programme_id.value = rules.programme_id || "";
      await trail();
    } catch (e) {
      T.showError("ow-error", e);
    }
  }

  $("ow-rules-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const f = event.target.elements;
    try {
      await T.call("PUT", "/v1/officer/watch/rules", { hours: f.hours.value.replace(/\s/g, ""),
        max_minutes_per_day: Number(f.max_minutes_per_day.value), programme_id: f.programme_id.value ? Number(f.programme_id.value) : null });
      $("ow-rules-notice").textContent = T.t("ow_saved");
      $("ow-rules-notice").hidden = false;
      await trail();
    } catch (e) {
      T.showError("ow-error", e);
    }
  });

  T.officerWatch = load;
})();
