/* The help coordinators' desk (社会福祉協議会, 民生委員, a counter officer): record a resident's
   consent with their card and the PIN they type, then post, choose and confirm help requests
   for them. Every call goes to /v1/coordinator/…, which refuses anyone who has not consented
   and records who acted. */
"use strict";

(() => {
  const T = TAKASAGO;
  const H = TAKASAGO_HELP;
  const $ = (id) => document.getElementById(id);
  let current = null; // the resident acted for: {id, name, member}

  async function start() {
    T.bindSettings();
    if (!T.tokens.access) return T.show("login");
    try {
      const me = await T.call("GET", "/v1/me");
      if (me.role !== "coordinator" && me.role !== "officer") { T.tokens.clear(); return T.show("login"); }
    } catch (e) {
      return T.show("login");
    }
    $("logout").hidden = false;
    await desk();
  }

  async function desk(notice) {
    T.show("desk");
    $("desk-notice").hidden = !notice;
    if (notice) $("desk-notice").textContent = T.t(notice);
    try {
      const residents = await T.call("GET", "/v1/coordinator/residents");
      $("residents").replaceChildren(...residents.map((r) => {
        const li = H.el("li", null, { "data-id": r.id, class: "clickable", tabindex: "0" });
        li.append(H.el("span", `${r.name || r.member} (${r.member})`));
        li.addEventListener("click", () => resident(r));
        li.addEventListener("keydown", (event) => { if (event.key === "Enter") resident(r); });
        return li;
      }));
      $("residents-empty").hidden = residents.length > 0;
    } catch (e) {
      T.showError("desk-error", e);
    }
  }

  const base = () => `/v1/coordinator/residents/${current.id}/help`;

  async function resident(r, notice) {
    current = r || current;
    T.show("resident");
    $("resident-name").textContent = `${current.name || ""} (${current.member})`;
    $("resident-notice").hidden = !notice;
    if (notice) $("resident-notice").textContent = T.t(notice);
    try {
      const requests = await T.call("GET", base());
      $("their-requests").replaceChildren(...requests.map((q) => {
        const li = H.item(q, []);
        li.classList.add("clickable");
        li.tabIndex = 0;
        li.addEventListener("click", () => detail(q.id));
        li.addEventListener("keydown", (event) => { if (event.key === "Enter") detail(q.id); });
        return li;
      }));
      $("their-requests-empty").hidden = requests.length > 0;
      await H.bindPostForm($("help-post-form"), "help-post-error",
        (body) => T.move(`${base()}/requests`, body), () => resident(null, "help_posted"));
    } catch (e) {
      T.showError("resident-error", e);
    }
  }

  async function detail(id) {
    T.show("help-detail");
    const path = `${base()}/requests/${id}`;
    try {
      const q = await T.call("GET", path);
      H.detail($("help-detail-body"), q, {
        choose: (helper) => T.move(`${path}/choose`, { helper }),
        complete: (message, rating) => T.move(`${path}/complete`, { message, rating }),
        withdraw: () => T.move(`${path}/withdraw`, {}),
        cancel: () => T.move(`${path}/cancel`, {}),
        expire: () => T.move(`${path}/expire`, {}),
        dispute: (reason) => T.move(`${path}/dispute`, { reason }),
      }, () => detail(id), "help-detail-error");
    } catch (e) {
      T.showError("help-detail-error", e);
    }
  }

  $("link-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = new FormData(event.target);
    try {
      await T.call("POST", "/v1/coordinator/links", {
        member: String(form.get("member")).trim(), card: String(form.get("card")).trim(), pin: String(form.get("pin")),
      });
      event.target.reset();
      await desk("coord_linked");
    } catch (e) {
      T.showError("desk-error", e);
    }
  });
  $("voucher-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = new FormData(event.target);
    try {
      await T.call("POST", `/v1/coordinator/residents/${current.id}/vouchers`,
        { units: Number(form.get("units")), evidence: String(form.get("evidence")) });
      event.target.reset();
      await resident(null, "coord_voucher_sent");
    } catch (e) {
      T.showError("resident-error", e);
    }
  });
  document.querySelectorAll("button.back").forEach((b) => b.addEventListener("click", () => desk()));
  $("detail-back").addEventListener("click", () => resident(null));
  T.bindSession(start, () => T.show("login"));
  document.addEventListener("takasago:language", () => { if (!$("desk").hidden) desk(); });
  start();
})();
