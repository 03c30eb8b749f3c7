/* The residents' 困りごと tab: ask for help (thanks held in escrow), find neighbours' requests
   near me and offer, choose who helps, confirm it was done; my requests and the help I gave;
   who may act for me (a coordinator) and ending that. Drawn with TAKASAGO_HELP. */
"use strict";

(() => {
  const T = TAKASAGO;
  const H = TAKASAGO_HELP;
  const $ = (id) => document.getElementById(id);
  let page = 1;
  let filters = "";

  async function overview(notice) {
    T.show("help");
    if (notice) { $("help-notice").textContent = T.t(notice); $("help-notice").hidden = false; } else $("help-notice").hidden = true;
    try {
      const mine = await T.call("GET", "/v1/help/mine");
      $("help-mine").replaceChildren(...mine.map((r) => {
        const li = H.item(r, []);
        li.addEventListener("click", () => detail(r.id));
        li.classList.add("clickable");
        li.tabIndex = 0;
        li.addEventListener("keydown", (event) => { if (event.key === "Enter") detail(r.id); });
        return li;
      }));
      $("help-mine-empty").hidden = mine.length > 0;
      const given = mine.filter((r) => r.role === "helper" && r.status === "completed");
      const total = given.reduce((sum, r) => sum + r.thanks, 0);
      $("help-given").textContent = `${T.t("help_given")}: ${given.length} ${T.t("help_times")} ／ ${T.formatPoints(total)}`;
      const coordinators = await T.call("GET", "/v1/help/coordinators");
      $("help-coordinators").replaceChildren(...coordinators.map((c) => {
        const li = H.el("li", null, { "data-id": c.id });
        li.append(H.el("span", `${c.name} (${c.member})`));
        const end = H.el("button", T.t("help_end_consent"), { type: "button" });
        end.addEventListener("click", async () => {
          try { await T.call("DELETE", `/v1/help/coordinators/${c.id}`); await overview(); } catch (e) { T.showError("help-error", e); }
        });
        const row = H.el("div", null, { class: "decide" });
        row.append(end);
        li.append(row);
        return li;
      }));
    } catch (e) {
      T.showError("help-error", e);
    }
  }

  async function detail(id) {
    T.show("help-detail");
    try {
      const r = await T.call("GET", `/v1/help/requests/${id}`);
      const base = `/v1/help/requests/${id}`;
      const api = {
        choose: (helper) => T.move(`${base}/choose`, { helper }),
        complete: (message, rating) => T.move(`${base}/complete`, { message, rating }),
        withdraw: () => T.move(`${base}/withdraw`, {}),
        cancel: () => T.move(`${base}/cancel`, {}),
        expire: () => T.move(`${base}/expire`, {}),
        stepBack: () => T.move(`${base}/step-back`, {}),
        dispute: (reason) => T.move(`${base}/dispute`, { reason }),
        block: (member) => T.call("POST", "/v1/help/blocks", { member }),
        report: (member, reason) => T.call("POST", "/v1/help/reports", { member, request_id: id, reason }),
      };
      H.detail($("help-detail-body"), r, api, () => detail(id), "help-detail-error");
    } catch (e) {
      T.showError("help-detail-error", e);
    }
  }

  async function browse(more) {
    page = more ? page + 1 : 1;
    try {
      const result = await T.call("GET", `/v1/help/requests?page=${page}&size=20${filters}`);
      const items = result.items.map((r) => {
        const offer = H.el("button", T.t("help_offer"), { type: "button", class: "primary" });
        offer.addEventListener("click", async () => {
          offer.disabled = true;
          try {
            await T.call("POST", `/v1/help/requests/${r.id}/offers`, { message: $("help-offer-message").value || "" });
            $("help-offered").textContent = T.t("help_offered");
            $("help-offered").hidden = false;
            offer.hidden = true;
          } catch (e) {
            offer.disabled = false;
            T.showError("help-browse-error", e);
          }
        });
        return H.item(r, [offer]);
      });
      if (more) $("help-open").append(...items); else $("help-open").replaceChildren(...items);
      $("help-open-empty").hidden = $("help-open").children.length > 0;
      $("help-open-more").hidden = page * 20 >= result.total;
    } catch (e) {
      T.showError("help-browse-error", e);
    }
  }

  $("go-help").addEventListener("click", () => overview());
  document.querySelectorAll("button.help-back").forEach((b) => b.addEventListener("click", () => overview()));
  $("help-go-post").addEventListener("click", async () => {
    T.show("help-post");
    try {
      await H.bindPostForm($("help-post-form"), "help-post-error",
        (body) => T.move("/v1/help/requests", body), () => overview("help_posted"));
    } catch (e) {
      T.showError("help-post-error", e);
    }
  });
  $("help-go-browse").addEventListener("click", async () => {
    T.show("help-browse");
    $("help-offered").hidden = true;
    try {
      const menu = await T.call("GET", "/v1/help/tasks");
      const select = $("help-filter-task");
      select.replaceChildren(H.el("option", T.t("help_all_tasks"), { value: "" }),
        ...menu.map((m) => H.el("option", H.taskName(m.task_type), { value: String(m.task_type) })));
    } catch (e) {
      T.showError("help-browse-error", e);
    }
    filters = "";
    await browse(false);
  });
  $("help-filter").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = new FormData(event.target);
    filters = ["district", "task_type", "day"]
      .filter((k) => form.get(k))
      .map((k) => `&${k}=${encodeURIComponent(String(form.get(k)).trim())}`).join("");
    await browse(false);
  });
  $("help-open-more").addEventListener("click", () => browse(true));
  $("help-consent-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = new FormData(event.target);
    try {
      await T.call("POST", "/v1/help/coordinators", { coordinator: String(form.get("coordinator")).trim() });
      event.target.reset();
      await overview();
    } catch (e) {
      T.showError("help-error", e);
    }
  });
})();
