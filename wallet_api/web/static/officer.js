/* The city officer's desk: verify pending people against their ID documents (approving
   registers the account on-chain) and decide programme claims (approving attests them).
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
      // read after the accounts above: the list just shown is itself in the trail
      const reads = await T.call("GET", "/v1/officer/reads?limit=50");
      $("reads").replaceChildren(...reads.map((r) => {
        const li = document.createElement("li");
        li.dataset.officer = r.officer;
        li.dataset.account = r.account;
        const when = new Date(r.read_at).toLocaleString(document.documentElement.lang);
        const who = r.officer_name ? `${r.officer_name} (${r.officer})` : T.t("command_line");
        li.textContent = [when, who, r.account_login, r.reason].join(" ／ ");
        return li;
      }));
      $("reads-empty").hidden = reads.length > 0;
    } catch (e) {
      T.showError("desk-error", e);
    }
  }

  T.bindSession(start, () => T.show("login"));
  $("refresh").addEventListener("click", () => desk());
  document.addEventListener("takasago:language", () => { if (!$("desk").hidden) desk(); });

  start();
})();
