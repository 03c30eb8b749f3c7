/* The city officer's desk: verify pending people against their ID documents (approving
   registers the account on-chain), decide programme claims (approving attests them), and
   moderate help matching (decide disputes, read residents' reports, suspend or readmit).
   Every opening of a personal record is audited; the trail is listed at the bottom. */
"use strict";

(() => {
  const T = TAKASAGO;
  const $ = (id) => document.getElementById(id);

  async function start() {
    T.bindSettings();
    if (!T.tokens.access) return T.show("login");
    try {
      const me = await T.call("GET", "/v1/me");
      if (me.role !== "officer") { T.tokens.clear(); return T.show("login"); }
    } catch (e) {
      return T.show("login");
    }
    $("logout").hidden = false;
    await desk();
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
      // the records shown are audited reads: say why they are opened
      const reason = encodeURIComponent(T.t("read_reason"));
      const accounts = await T.call("GET", `/v1/officer/accounts?status=pending&reason=${reason}`);
      $("accounts").replaceChildren(...accounts.map((a) => row(
        [a.record.name || "", a.record.date_of_birth || "", a.record.address || "", `${T.t(a.role)} (${a.login})`],
        [
          button("approve", true, () => T.move(`/v1/officer/accounts/${a.id}/approve`, undefined)),
          button("reject", false, () => T.call("POST", `/v1/officer/accounts/${a.id}/reject`)),
        ],
        a.id,
      )));
      $("accounts-empty").hidden = accounts.length > 0;
      const claims = await T.call("GET", "/v1/officer/claims?status=pending");
      $("claims").replaceChildren(...claims.map((c) => row(
        [`#${c.programme_id}`, `${c.units}`, c.evidence, c.resident || ""],
        [
          button("approve", true, () => T.call("POST", `/v1/officer/claims/${c.id}/approve`, undefined, crypto.randomUUID())),
          button("reject", false, () => T.call("POST", `/v1/officer/claims/${c.id}/reject`, undefined, crypto.randomUUID())),
        ],
        c.id,
      )));
      $("claims-empty").hidden = claims.length > 0;
      await moderation();
      if (T.officerWatch) await T.officerWatch();
      // read after the accounts above: the list just shown is itself in the trail
      const reads = await T.call("GET", "/v1/officer/reads?limit=50");
      $("reads").replaceChildren(...reads.map((r) => {
        const li = document.createElement("li");
        li.dataset.officer = r.officer;
        li.dataset.account = r.account;
        const when = new Date(r.read_at).toLocaleString(document.documentElement.lang);
        // a reader without a name shown is a resident (help matching shows the matched party's name)
        const who = r.officer === "(command line)" ? T.t("command_line") : (r.officer_name ? `${r.officer_name} (${r.officer})` : r.officer);
        li.textContent = [when, who, r.account_login, r.reason].join(" ／ ");
        return li;
      }));
      $("reads-empty").hidden = reads.length > 0;
    } catch (e) {
      T.showError("desk-error", e);
    }
  }

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
      [new Date(r.at).toLocaleString(document.documentElement.lang), r.reported, r.reason],
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

  T.bindSession(start, () => T.show("login"));
  $("refresh").addEventListener("click", () => desk());
  document.addEventListener("takasago:language", () => { if (!$("desk").hidden) desk(); });

  start();
})();
