/* Help matching (困りごと), shared by the residents' app and the coordinators' desk: the task
   menu with icons, the posting form, and one request drawn with the buttons its viewer may
   press. The pages say which API paths to call (a resident's own, or a coordinator's for a
   resident who consented); this file never decides who may do what, the API does. */
"use strict";

const TAKASAGO_HELP = (() => {
  const T = TAKASAGO;
  const ICONS = ["🛒", "🗑️", "🧹", "🌱", "🪑", "🏥", "📱", "🧒", "✋"];

  T.addTexts({
    ja: {
      title_coordinator: "たかさごポイント 困りごと支援デスク",
      help: "困りごと・お手伝い", help_ask: "困りごとを頼む", help_find: "お手伝いを探す",
      help_mine: "わたしの困りごと・お手伝い", help_none: "まだありません",
      task_0: "買い物", task_1: "ごみ出し", task_2: "かんたんな家事", task_3: "庭の手入れ", task_4: "家具の移動",
      task_5: "病院・市役所への付き添い", task_6: "スマホの使い方", task_7: "子どものお迎え", task_8: "その他",
      help_task: "どんなお手伝い？", help_district: "町名（おおよその場所）", help_day: "日にち",
      help_from: "開始時刻", help_to: "終了時刻", help_thanks: "お礼のポイント", help_range: "市の目安",
      help_details: "くわしい内容（お手伝いする方だけに表示）", help_place: "待ち合わせ場所・住所（お手伝いする方だけに表示）",
      help_post: "この内容で頼む", help_posted: "困りごとを登録しました（お礼のポイントは預かり中です）",
      help_filter: "しぼりこむ", help_all_tasks: "すべての種類", help_any_day: "すべての日", help_offer: "手伝います",
      help_offer_message: "ひとこと（任意）", help_offered: "申し出ました。依頼した方が選ぶとお知らせします。",
      help_offers: "手伝いを申し出た方", help_choose: "この方にお願いする", help_complete: "お手伝い完了を確認（お礼を渡す）",
      help_withdraw: "取り下げる（ポイントは戻ります）", help_counterpart: "お相手", help_status: "状況",
      help_status_open: "募集中", help_status_matched: "お手伝いする方が決まりました", help_status_completed: "完了",
      help_status_withdrawn: "取り下げ", help_role_requester: "依頼", help_role_helper: "お手伝い",
      help_no_offers: "まだ申し出はありません", help_coordinators: "代わりに手続きする方（社協・民生委員）",
      help_coordinator_code: "コーディネーターのコード", help_consent: "代理をお願いする", help_end_consent: "代理をやめる",
      help_open: "近くの困りごと", help_back: "戻る", help_more: "もっと見る",
      coord_residents: "代理を任されている方", coord_link: "ご本人の同意を記録（カードと暗証番号）",
      coord_member: "ご本人の会員コード", coord_card: "カードのコード（読み取り）", coord_pin: "暗証番号（ご本人が入力）",
      coord_linked: "同意を記録しました", coord_act: "この方の困りごと", coord_none: "まだいません",
      coord_for: "代理：",
      help_cancel: "取り消す（ポイントは戻ります）", help_step_back: "行けなくなった（ほかの方に再募集）",
      help_dispute: "市に相談する", help_dispute_reason: "相談の内容（市だけが読みます）", help_expire: "期限が過ぎたのでポイントを戻す",
      help_report: "この方について市に知らせる", help_report_reason: "知らせる内容（相手には伝わりません）",
      help_block: "ブロック", help_blocked: "ブロックしました", help_reported: "市に知らせました",
      help_status_cancelled: "取り消し", help_status_expired: "期限切れ（ポイント返却）", help_status_disputed: "市が確認中",
      help_status_resolved: "市が判断しました", help_status_removed: "市が取り下げました",
      mod_title: "困りごと：相談と報告", mod_disputes: "確認待ちの相談", mod_to_helper: "お手伝いした方へのポイント",
      mod_decision: "判断の内容（記録されます）", mod_resolve: "判断する", mod_reports: "住民からの報告",
      mod_handled: "確認済みにする", mod_suspend_title: "利用停止・再開", mod_member: "会員コード",
      mod_reason: "理由（記録されます）", mod_suspend: "利用を停止", mod_readmit: "利用を再開", mod_done: "記録しました",
      help_thank_message: "お礼のひとこと（任意・お相手に表示）", help_rating: "評価（任意・市だけが見ます）",
      help_given: "これまでのお手伝い", help_times: "回",
      coord_voucher: "市のお手伝い券を申請", coord_voucher_units: "枚数", coord_voucher_why: "理由",
      coord_voucher_send: "申請する（市職員が確認します）", coord_voucher_sent: "お手伝い券を申請しました（市職員の確認待ち）",
    },
    en: {
      title_coordinator: "Takasago Points Help Desk",
      help: "Help with everyday problems", help_ask: "Ask for help", help_find: "Find someone to help",
      help_mine: "My requests and help", help_none: "Nothing yet",
      task_0: "Shopping", task_1: "Putting out rubbish", task_2: "Light housework", task_3: "Garden", task_4: "Moving furniture",
      task_5: "Going with me to hospital or city hall", task_6: "Smartphone help", task_7: "Picking up a child", task_8: "Other",
      help_task: "What kind of help?", help_district: "District (roughly where)", help_day: "Day",
      help_from: "From", help_to: "To", help_thanks: "Thanks in points", help_range: "City's suggestion",
      help_details: "Details (shown only to the person who helps)", help_place: "Where to meet / address (only to the person who helps)",
      help_post: "Ask for this", help_posted: "Your request is posted (the thanks are held until it is done)",
      help_filter: "Filter", help_all_tasks: "All kinds", help_any_day: "Any day", help_offer: "I can help",
      help_offer_message: "A short message (optional)", help_offered: "Offer sent. You will see it here if they choose you.",
      help_offers: "People who offered", help_choose: "Ask this person", help_complete: "Confirm it is done (give the thanks)",
      help_withdraw: "Withdraw (points come back)", help_counterpart: "The other person", help_status: "Status",
      help_status_open: "Open", help_status_matched: "Helper chosen", help_status_completed: "Done",
      help_status_withdrawn: "Withdrawn", help_role_requester: "Asked", help_role_helper: "Helping",
      help_no_offers: "No offers yet", help_coordinators: "Who may do this for me (social welfare council, welfare volunteer)",
      help_coordinator_code: "Coordinator's code", help_consent: "Let them act for me", help_end_consent: "Stop",
      help_open: "Requests near me", help_back: "Back", help_more: "More",
      coord_residents: "Residents who asked me to act for them", coord_link: "Record the resident's consent (card and PIN)",
      coord_member: "Resident's member code", coord_card: "Card code (scanned)", coord_pin: "PIN (typed by the resident)",
      coord_linked: "Consent recorded", coord_act: "Their requests", coord_none: "None yet",
      coord_for: "For: ",
      help_cancel: "Cancel (points come back)", help_step_back: "I can't come after all (reopen for others)",
      help_dispute: "Ask the city", help_dispute_reason: "What happened (only the city reads it)", help_expire: "The time has passed: take the points back",
      help_report: "Tell the city about this person", help_report_reason: "What to tell (they are not told who)",
      help_block: "Block", help_blocked: "Blocked", help_reported: "The city has been told",
      help_status_cancelled: "Cancelled", help_status_expired: "Expired (points returned)", help_status_disputed: "The city is looking at it",
      help_status_resolved: "Decided by the city", help_status_removed: "Taken down by the city",
      mod_title: "Help matching: disputes and reports", mod_disputes: "Disputes waiting for a decision", mod_to_helper: "Points to the helper",
      mod_decision: "The decision (recorded)", mod_resolve: "Decide", mod_reports: "Residents' reports",
      mod_handled: "Mark as handled", mod_suspend_title: "Suspend or readmit", mod_member: "Member code",
      mod_reason: "Reason (recorded)", mod_suspend: "Suspend", mod_readmit: "Readmit", mod_done: "Recorded",
      help_thank_message: "A word of thanks (optional, they see it)", help_rating: "Rating (optional, only the city sees it)",
      help_given: "Help I have given", help_times: "times",
      coord_voucher: "Ask the city for help vouchers", coord_voucher_units: "How many", coord_voucher_why: "Why",
      coord_voucher_send: "Ask (an officer decides)", coord_voucher_sent: "Vouchers asked for (waiting for an officer)",
    },
  });

  const taskName = (i) => `${ICONS[i] || ""} ${T.t(`task_${i}`)}`;

  const el = T.el;

  const when = (r) => T.jstSpan(r.starts_at, r.ends_at); // 2026-12-03 (Thu) 14:00–15:00 JST / 2026/12/03（木）14:00–15:00

  /** The task menu as big radio buttons with icons; ranges from the city (GET /v1/help/tasks). */
  async function taskPicker(fieldset, onPick) {
    const menu = await T.call("GET", "/v1/help/tasks");
    fieldset.replaceChildren(el("legend", T.t("help_task")), ...menu.filter((m) => m.enabled).map((m) => {
      const label = el("label", null, { class: "task" });
      const input = el("input", null, { type: "radio", name: "task_type", value: String(m.task_type), required: "" });
      input.addEventListener("change", () => onPick(m));
      label.append(input, el("span", taskName(m.task_type)));
      return label;
    }));
    return menu;
  }

  /** The posting form's body as the API takes it (times are JST). */
  function postBody(form) {
    const data = new FormData(form);
    const at = (time) => `${data.get("day")}T${time}:00+09:00`;
    return {
      task_type: Number(data.get("task_type")),
      district: String(data.get("district") || "").trim(),
      starts_at: at(data.get("from")),
      ends_at: at(data.get("to")),
      thanks: Number(data.get("thanks")),
      details: String(data.get("details") || ""),
      place: String(data.get("place") || ""),
    };
  }

  /** The posting form's fields (built here once, so the app and the desk ask the same questions). */
  function buildPostForm(form, errorId) {
    const field = (key, input) => {
      const label = el("label");
      label.append(el("span", T.t(key), { "data-t": key }), input);
      return label;
    };
    const input = (attrs) => el("input", null, attrs);
    const times = el("div", null, { class: "times" });
    times.append(field("help_from", input({ name: "from", type: "time", required: "", value: "10:00" })),
      field("help_to", input({ name: "to", type: "time", required: "", value: "12:00" })));
    const thanks = field("help_thanks", input({ name: "thanks", type: "number", min: "1", step: "1", inputmode: "numeric", required: "" }));
    thanks.append(el("small", null, { class: "range" }));
    const submit = el("button", T.t("help_post"), { type: "submit", class: "primary big", "data-t": "help_post" });
    form.replaceChildren(
      el("fieldset", null, { class: "tasks" }),
      field("help_district", input({ name: "district", required: "", maxlength: "40", autocomplete: "off" })),
      field("help_day", input({ name: "day", type: "date", required: "" })),
      times, thanks,
      field("help_details", input({ name: "details", required: "", maxlength: "500" })),
      field("help_place", input({ name: "place", required: "", maxlength: "200" })),
      el("p", null, { class: "error", id: errorId, role: "alert", hidden: "" }),
      submit,
    );
  }

  /** The posting form, wired: ``post(body)`` sends it (a resident's own path, or a coordinator's). */
  async function bindPostForm(form, errorId, post, done) {
    if (!form.elements.day) buildPostForm(form, errorId);
    const tomorrow = new Date(Date.now() + 864e5 + 9 * 36e5).toISOString().slice(0, 10);
    form.elements.day.value = form.elements.day.value || tomorrow;
    const hint = form.querySelector(".range");
    await taskPicker(form.querySelector("fieldset.tasks"), (m) => {
      hint.textContent = `${T.t("help_range")}: ${T.formatPoints(m.min_thanks)} – ${T.formatPoints(m.max_thanks)}`;
      form.elements.thanks.min = m.min_thanks;
      form.elements.thanks.max = m.max_thanks;
      if (!form.elements.thanks.value) form.elements.thanks.value = m.min_thanks;
    });
    if (form.dataset.bound) return;
    form.dataset.bound = "1";
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const button = form.querySelector("button[type=submit]");
      button.disabled = true;
      try {
        await post(postBody(form));
        form.reset();
        await done();
      } catch (e) {
        T.showError(errorId, e);
      } finally {
        button.disabled = false;
      }
    });
  }

  /** One request as a list item: task, when, where, thanks, status; ``actions`` are buttons. */
  function item(r, actions) {
    const li = el("li", null, { "data-id": r.id, "data-status": r.status });
    li.append(el("span", `${taskName(r.task_type)} ／ ${r.district} ／ ${when(r)}`), el("strong", T.formatPoints(r.thanks)));
    const small = el("small", `${T.t(`help_status_${r.status}`)}${r.role && r.role !== "neighbour" ? " ／ " + T.t(`help_role_${r.role}`) : ""}`);
    li.append(small);
    if (actions && actions.length) {
      const row = el("div", null, { class: "decide" });
      row.append(...actions);
      li.append(row);
    }
    return li;
  }

  /** A request in full for its requester or helper: details, place, the other person, offers and next steps.
      ``api`` = {choose(helperId), complete(), withdraw()} or null for a helper (who only reads). */
  function detail(container, r, api, after, errorId) {
    const parts = [
      el("h2", taskName(r.task_type)),
      el("p", when(r)),
      el("p", `${r.district} ／ ${T.formatPoints(r.thanks)}`, { class: "shop" }),
      el("p", `${T.t("help_status")}: ${T.t(`help_status_${r.status}`)}`, { class: "status", "data-status": r.status }),
    ];
    if (r.details) parts.push(el("p", r.details, { class: "notice" }));
    if (r.place) parts.push(el("p", `📍 ${r.place}`, { class: "place" }));
    if (r.thank_message) parts.push(el("q", r.thank_message, { class: "thank-message" }));
    if (r.counterpart) {
      parts.push(el("p", `${T.t("help_counterpart")}: ${r.counterpart.name || ""} (${r.counterpart.member})`, { class: "counterpart" }));
    }
    const press = (label, primary, action) => {
      const b = el("button", T.t(label), { type: "button", class: primary ? "primary big" : "big" });
      b.addEventListener("click", async () => {
        b.disabled = true;
        try { await action(); await after(); } catch (e) { T.showError(errorId, e); } finally { b.disabled = false; }
      });
      return b;
    };
    /* a reason typed in place, then sent: disputes and reports */
    const withReason = (label, placeholder, action, className) => {
      const form = el("form", null, { class: `reason ${className}` });
      const input = el("input", null, { name: "reason", required: "", maxlength: "200", placeholder: T.t(placeholder) });
      const send = el("button", T.t(label), { type: "submit" });
      form.append(input, send);
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        send.disabled = true;
        try { await action(input.value); await after(); } catch (e) { T.showError(errorId, e); } finally { send.disabled = false; }
      });
      return form;
    };
    const mine = api && r.role === "requester";
    const over = new Date(r.ends_at) <= new Date();
    if (mine && r.status === "open" && !over) {
      parts.push(el("h3", T.t("help_offers")));
      const offers = el("ul", null, { class: "history offers" });
      offers.append(...(r.offers || []).map((o) => {
        const li = el("li", null, { "data-helper": o.helper });
        li.append(el("span", `${o.member}${o.message ? " ／ " + o.message : ""}`));
        const row = el("div", null, { class: "decide" });
        row.append(press("help_choose", true, () => api.choose(o.helper)));
        if (api.block) row.append(press("help_block", false, () => api.block(o.member)));
        li.append(row);
        return li;
      }));
      parts.push(offers);
      if (!(r.offers || []).length) parts.push(el("p", T.t("help_no_offers")));
      parts.push(press("help_withdraw", false, () => api.withdraw()));
    }
    if (mine && r.status === "open" && over && api.expire) parts.push(press("help_expire", true, () => api.expire()));
    if (mine && r.status === "matched") {
      const form = el("form", null, { class: "complete" });
      const words = el("input", null, { name: "message", maxlength: "200", placeholder: T.t("help_thank_message") });
      const rating = el("select", null, { name: "rating", "aria-label": T.t("help_rating") });
      rating.append(el("option", T.t("help_rating"), { value: "" }),
        ...[5, 4, 3, 2, 1].map((n) => el("option", "★".repeat(n), { value: String(n) })));
      const done = el("button", T.t("help_complete"), { type: "submit", class: "primary big" });
      form.append(words, rating, done);
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        done.disabled = true;
        try { await api.complete(words.value, rating.value ? Number(rating.value) : null); await after(); }
        catch (e) { T.showError(errorId, e); } finally { done.disabled = false; }
      });
      parts.push(form);
      if (new Date(r.starts_at) > new Date() && api.cancel) parts.push(press("help_cancel", false, () => api.cancel()));
    }
    if (api && r.role === "helper" && r.status === "matched" && api.stepBack) {
      parts.push(press("help_step_back", false, () => api.stepBack()));
    }
    if (api && r.status === "matched" && api.dispute) {
      parts.push(withReason("help_dispute", "help_dispute_reason", (reason) => api.dispute(reason), "dispute"));
    }
    if (api && r.counterpart && api.report) {
      parts.push(withReason("help_report", "help_report_reason", (reason) => api.report(r.counterpart.member, reason), "report"));
    }
    container.replaceChildren(...parts);
  }

  return { ICONS, taskName, el, when, item, detail, bindPostForm, taskPicker };
})();
