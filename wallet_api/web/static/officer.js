/* The city officer's desk: verify pending people against their ID documents (approving
   registers the account on-chain), open programme claims for a decision (officer_programmes.js), and
   moderate help matching (decide disputes, read residents' reports, suspend or readmit).
   Every opening of a personal record is audited; the trail is listed at the bottom.

   An officer's working day (issue 20): who is logged in is shown at the top; accounts are
   listed by status (pending, active, suspended, rejected) with member code, address and name,
   searchable by member code. Every account action (approve, reject, suspend, reactivate,
   unlock) asks for a reason and a second press to confirm; the row is then updated where it
   is (never removed or re-sorted until the officer refreshes), so no button moves under the
   finger. */
"use strict";

(() => {
  const T = TAKASAGO;
  const $ = (id) => document.getElementById(id);

  T.addTexts({
    ja: {
      od_accounts: "アカウント", od_tab_pending: "本人確認待ち", od_tab_active: "利用中", od_tab_suspended: "停止中",
      od_tab_rejected: "却下済み", od_search: "会員コードで検索", od_search_go: "検索", od_who: "ログイン中",
      od_reason: "理由", od_cancel: "やめる", od_suspend: "停止", od_reactivate: "再開", od_unlock: "ロック解除",
      od_confirm_approve: "承認を確定", od_confirm_reject: "却下を確定", od_confirm_suspend: "停止を確定",
      od_confirm_reactivate: "再開を確定", od_confirm_unlock: "ロック解除を確定",
      od_registrar: "チェーン上の変更は登録担当職員（REGISTRAR）が自分の鍵で次のコマンドを実行してください：",
      od_duplicates: "同じ人の登録の可能性（氏名と生年月日または住所が一致）", od_done: "完了しました", od_locked: "ログイン失敗", od_view_reason: "アカウント一覧（市職員デスク）",
      pending: "本人確認待ち", approving: "登録中", active: "利用中", suspended: "停止中", rejected: "却下",
      od_decide_claim: "審査する", od_programmes: "プログラム・イベント・申請",
    },
    en: {
      od_accounts: "Accounts", od_tab_pending: "Waiting for verification", od_tab_active: "Active", od_tab_suspended: "Suspended",
      od_tab_rejected: "Rejected", od_search: "Search by member code", od_search_go: "Search", od_who: "Logged in",
      od_reason: "Reason", od_cancel: "Cancel", od_suspend: "Suspend", od_reactivate: "Reactivate", od_unlock: "Unlock",
      od_confirm_approve: "Confirm approval", od_confirm_reject: "Confirm rejection", od_confirm_suspend: "Confirm suspension",
      od_confirm_reactivate: "Confirm reactivation", od_confirm_unlock: "Confirm unlock",
      od_duplicates: "possibly the same person (same name and birth date, or address)",
      od_registrar: "On-chain, a registrar officer runs this with their own key:",
      od_done: "Done", od_locked: "failed log-ins", od_view_reason: "account list at the officer desk",
      pending: "waiting", approving: "registering", active: "active", suspended: "suspended", rejected: "rejected",
      od_decide_claim: "Decide", od_programmes: "Programmes, events and claims",
    },
  });

  let tab = "pending";
  let code = "";
  let me = null;

  async function start() {
    T.bindSettings();
    if (!T.tokens.access) return T.show("login");
    try {
      me = await T.call("GET", "/v1/me");
      if (me.role !== "officer") { T.tokens.clear(); return T.show("login"); }
    } catch (e) {
      return T.show("login");
    }
    $("logout").hidden = false;
    showWho();
    await desk();
  }

  function showWho() {
    if (!me) return;
    $("officer-who").textContent = `${T.t("od_who")}: ${me.display_name || ""} (${me.login})`;
    $("officer-who").hidden = false;
  }

  function button(label, primary, onClick) {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = T.t(label);
    if (primary) b.className = "primary";
    b.addEventListener("click", async () => {
      b.disabled = true;
      try { await onClick(); await desk(); } catch (e) { T.showError("desk-error", e); } finally { b.disabled = false; }
    });
    return b;
  }

  function row(lines, buttons, testId) {
    const li = document.createElement("li");
    li.dataset.id = testId;
    const text = document.createElement("span");
    text.textContent = lines.join(" ／ ");
    const actions = document.createElement("div");
    actions.className = "decide";
    actions.append(...buttons);
    li.append(text, actions);
    return li;
  }

  async function desk() {
    T.show("desk");
    try {
      await accountList();
      // claims are decided on the programmes screen (issue 21): the photo, the trail of who saw it, a reason
      const claims = await T.call("GET", "/v1/officer/claims?status=pending");
      $("claims").replaceChildren(...claims.map((c) => {
        const open = document.createElement("button");
        open.type = "button";
        open.className = "primary";
        open.textContent = T.t("od_decide_claim");
        open.addEventListener("click", () => T.officerProgrammes.open());
        return row([`#${c.programme_id}`, `${c.units}`, c.evidence, c.resident || ""], [open], c.id);
      }));
      $("claims-empty").hidden = claims.length > 0;
      await moderation();
      if (T.officerWatch) await T.officerWatch();
      // read after the accounts above: the list just shown is itself in the trail
      await reads();
    } catch (e) {
      T.showError("desk-error", e);
    }
  }

  async function reads() {
    const rows = await T.call("GET", "/v1/officer/reads?limit=50");
    $("reads").replaceChildren(...rows.map((r) => {
      const li = document.createElement("li");
      li.dataset.officer = r.officer;
      li.dataset.account = r.account;
      const when = T.jstTime(r.read_at);
      // a reader without a name shown is a resident (help matching shows the matched party's name)
      const who = r.officer === "(command line)" ? T.t("command_line") : (r.officer_name ? `${r.officer_name} (${r.officer})` : r.officer);
      li.textContent = [when, who, r.account_login, r.reason].join(" ／ ");
      return li;
    }));
    $("reads-empty").hidden = rows.length > 0;
  }

  /* accounts: one list per status, in account order; actions confirmed with a reason, rows updated in place */
  const ACTIONS = {
    pending: ["approve", "reject"],
    approving: [],
    active: ["suspend", "unlock"],
    suspended: ["reactivate", "unlock"],
    rejected: [],
  };
  const LABEL = { approve: "approve", reject: "reject", suspend: "od_suspend", reactivate: "od_reactivate", unlock: "od_unlock" };

  async function accountList() {
    // the records shown are audited reads: say why they are opened
    const reason = encodeURIComponent(T.t(tab === "pending" ? "read_reason" : "od_view_reason"));
    const query = `status=${tab}&reason=${reason}` + (code ? `&code=${encodeURIComponent(code)}` : "");
    const members = await T.call("GET", `/v1/officer/members?${query}`);
    $("accounts").replaceChildren(...members.map(accountRow));
    $("accounts-empty").hidden = members.length > 0;
    $("account-tabs").querySelectorAll("button").forEach((b) => {
      b.setAttribute("aria-selected", String(b.dataset.status === tab));
      b.classList.toggle("primary", b.dataset.status === tab);
    });
  }

  function accountRow(a) {
    const li = document.createElement("li");
    li.dataset.id = a.id;
    li.dataset.status = a.status;
    li.dataset.code = a.short_code;
    const text = document.createElement("span");
    text.className = "member";
    text.style.overflowWrap = "anywhere";  // an address is one long word: wrap it on a phone
    text.style.minWidth = "0";
    const person = [a.name || "", a.date_of_birth || "", a.postal_address || ""].filter(Boolean);
    const locked = a.failed_logins ? `${T.t("od_locked")} ${a.failed_logins}` : "";
    const twins = (a.duplicates || []).length ? `⚠ ${T.t("od_duplicates")}: ${a.duplicates.join(", ")}` : "";
    text.textContent = [a.short_code, ...person, a.address || "", `${T.t(a.role)} (${a.login})`, T.t(a.status), locked, twins]
      .filter(Boolean).join(" ／ ");
    if (twins) li.dataset.duplicates = a.duplicates.join(",");
    const actions = document.createElement("div");
    actions.className = "decide";
    for (const action of ACTIONS[a.status] || []) {
      const b = document.createElement("button");
      b.type = "button";
      b.dataset.action = action;
      b.textContent = T.t(LABEL[action]);
      if (action === "approve") b.className = "primary";
      b.addEventListener("click", () => confirmForm(li, a, action));
      actions.append(b);
    }
    const slot = document.createElement("div");
    slot.className = "confirm-slot";
    slot.style.gridColumn = "1 / -1";
    li.append(text, actions, slot);
    return li;
  }

  /* the second step: a reason and a confirm button, below the row's own buttons (which stay where they are) */
  function confirmForm(li, a, action) {
    const slot = li.querySelector(".confirm-slot");
    const form = document.createElement("form");
    form.className = "reason confirm";
    Object.assign(form.style, { display: "flex", flexWrap: "wrap", gap: "0.4rem", alignItems: "end" });
    form.dataset.action = action;
    const label = document.createElement("label");
    const span = document.createElement("span");
    span.textContent = T.t("od_reason");
    const input = document.createElement("input");
    input.name = "reason";
    input.required = true;
    input.maxLength = 200;
    label.append(span, input);
    const ok = document.createElement("button");
    ok.type = "submit";
    ok.className = action === "approve" ? "primary" : "danger";
    ok.textContent = T.t(`od_confirm_${action}`);
    const cancel = document.createElement("button");
    cancel.type = "button";
    cancel.textContent = T.t("od_cancel");
    cancel.addEventListener("click", () => slot.replaceChildren());
    const error = document.createElement("p");
    error.className = "error";
    error.setAttribute("role", "alert");
    error.hidden = true;
    form.append(label, ok, cancel, error);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      ok.disabled = true;
      try {
        const body = { reason: input.value.trim() };
        let status = a.status;
        let command = null;
        if (action === "approve") {
          const out = await T.move(`/v1/officer/accounts/${a.id}/approve`, body);
          status = out.status;
        } else {
          const out = await T.call("POST", `/v1/officer/accounts/${a.id}/${action}`, body);
          status = out.status;
          command = out.registrar_command || null;
        }
        const updated = accountRow({ ...a, status, failed_logins: action === "unlock" ? 0 : a.failed_logins });
        // the same place in the list, at least as tall as it was: nothing below moves up under the finger
        updated.style.minHeight = `${li.getBoundingClientRect().height}px`;
        updated.style.boxSizing = "border-box";
        li.replaceWith(updated);
        const done = document.createElement("p");
        done.className = "notice";
        done.style.overflowWrap = "anywhere";
        done.setAttribute("role", "status");
        done.textContent = T.t("od_done");
        if (command) {
          const c = document.createElement("code");
          c.textContent = command;
          done.append(document.createElement("br"), T.t("od_registrar"), " ", c);
        }
        updated.querySelector(".confirm-slot").replaceChildren(done);
        await reads();
      } catch (e) {
        T.showError(error, e);
        ok.disabled = false;
      }
    });
    slot.replaceChildren(form);
    input.focus({ preventScroll: true });  // the page does not scroll under the finger either
  }

  $("account-tabs").addEventListener("click", async (event) => {
    const b = event.target.closest("button[data-status]");
    if (!b) return;
    tab = b.dataset.status;
    try { await accountList(); await reads(); } catch (e) { T.showError("desk-error", e); }
  });

  $("member-search").addEventListener("submit", async (event) => {
    event.preventDefault();
    code = String(new FormData(event.target).get("code") || "").trim().toUpperCase();
    try { await accountList(); await reads(); } catch (e) { T.showError("desk-error", e); }
  });

  /* help matching: disputes to decide (split recorded), residents' reports, suspensions */
  async function moderation() {
    const H = TAKASAGO_HELP;
    const cases = await T.call("GET", "/v1/officer/help/requests?status=disputed");
    $("help-disputes").replaceChildren(...cases.map((c) => {
      const li = H.item(c.request, []);
      li.append(H.el("small", c.trail.map((a) => `${a.by}: ${a.action} ${a.note}`).join(" ／ ")));
      const form = H.el("form", null, { class: "reason resolve" });
      const points = H.el("input", null, { name: "to_helper", type: "number", min: "0", max: String(c.request.thanks),
        required: "", "aria-label": T.t("mod_to_helper"), placeholder: T.t("mod_to_helper") });
      const decision = H.el("input", null, { name: "decision", required: "", maxlength: "200", placeholder: T.t("mod_decision") });
      const send = H.el("button", T.t("mod_resolve"), { type: "submit", class: "primary" });
      form.append(points, decision, send);
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        send.disabled = true;
        try {
          await T.move(`/v1/officer/help/requests/${c.request.id}/resolve`, { to_helper: Number(points.value), decision: decision.value });
          await desk();
        } catch (e) { T.showError("desk-error", e); } finally { send.disabled = false; }
      });
      li.append(form);
      return li;
    }));
    $("help-disputes-empty").hidden = cases.length > 0;
    const reports = await T.call("GET", "/v1/officer/help/reports");
    $("help-reports").replaceChildren(...reports.map((r) => row(
      [T.jstTime(r.at), r.reported, r.reason],
      [button("mod_handled", false, () => T.call("POST", `/v1/officer/help/reports/${r.id}/handled`))],
      r.id,
    )));
    $("help-reports-empty").hidden = reports.length > 0;
  }

  $("help-suspend-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = new FormData(event.target);
    const suspended = event.submitter ? event.submitter.value === "1" : true;
    try {
      await T.move("/v1/officer/help/suspensions", { member: String(form.get("member")).trim(), suspended, reason: String(form.get("reason")) });
      event.target.reset();
      $("help-mod-notice").textContent = T.t("mod_done");
      $("help-mod-notice").hidden = false;
    } catch (e) {
      T.showError("desk-error", e);
    }
  });

  /* the way to the programmes screen (claims with photos, events and their QR, programme rules) */
  const toProgrammes = document.createElement("button");
  toProgrammes.type = "button";
  toProgrammes.id = "go-programmes-desk";
  toProgrammes.dataset.t = "od_programmes";
  toProgrammes.textContent = T.t("od_programmes");
  toProgrammes.addEventListener("click", () => T.officerProgrammes.open());
  $("claims").before(toProgrammes);

  T.bindSession(start, () => T.show("login"));
  $("refresh").addEventListener("click", () => desk());
  document.addEventListener("takasago:language", () => { showWho(); if (!$("desk").hidden) desk(); });

  start();
})();
