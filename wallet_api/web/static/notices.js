/* The residents' notice centre (issue 20): a bell with the unread count in the header, the
   notices newest first (points received, thanks with the neighbour's message, payments,
   decisions, help, expiring points), marking them read, and e-mail on or off. Texts come from
   the API in both languages, so switching language redraws without asking again. */
"use strict";

(() => {
  const T = TAKASAGO;
  const $ = (id) => document.getElementById(id);
  let items = [];
  let next = null;
  let unread = 0;

  T.addTexts({
    ja: {
      notices: "お知らせ", notices_read_all: "すべて既読にする", notices_none: "お知らせはありません",
      notices_unread: "未読", notices_all_read: "すべて読みました", notices_new: "新着",
      notices_mail: "メールでも受け取る", notices_mail_address: "メールアドレス",
      notices_mail_on: "お知らせをメールで受け取る", notices_mail_save: "保存する",
      notices_mail_saved: "保存しました", notices_mail_on_file: "メールアドレスは登録済みです（表示はしません）",
      notices_mail_none: "メールアドレスは登録されていません", notices_mail_unavailable: "この市ではまだメールでのお知らせを送っていません",
    },
    en: {
      notices: "Notices", notices_read_all: "Mark all as read", notices_none: "No notices yet",
      notices_unread: "unread", notices_all_read: "All read", notices_new: "New",
      notices_mail: "Also by e-mail", notices_mail_address: "E-mail address",
      notices_mail_on: "Send me notices by e-mail", notices_mail_save: "Save",
      notices_mail_saved: "Saved", notices_mail_on_file: "An address is on file (not shown)",
      notices_mail_none: "No e-mail address on file", notices_mail_unavailable: "The city does not send e-mail notices yet",
    },
  });

  function el(tag, text, cls) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = text;
    if (cls) node.className = cls;
    return node;
  }

  function showCount() {
    $("bell-count").textContent = String(unread);
    $("bell-count").hidden = unread === 0;
    $("bell").setAttribute("aria-label", `${T.t("notices")} ${unread} ${T.t("notices_unread")}`);
    $("notices-unread").textContent = unread ? `${T.t("notices_unread")}: ${unread}` : T.t("notices_all_read");
    $("notices-read-all").hidden = unread === 0;
  }

  /** The unread count only (one small page), for the bell. */
  async function count() {
    if (!T.tokens.access) { $("bell").hidden = true; return; }
    try {
      const page = await T.call("GET", "/v1/notices?limit=1");
      unread = page.unread;
      $("bell").hidden = false;
      showCount();
    } catch (e) {
      $("bell").hidden = true; // not a resident or merchant, or logged out
    }
  }

  function draw() {
    $("notice-list").replaceChildren(...items.map((n) => {
      const text = n.texts[T.lang] || n.texts.ja;
      const li = el("li", null, n.read ? "" : "unread");
      li.dataset.id = String(n.id);
      li.dataset.kind = n.kind;
      const title = el("strong", text.title);
      if (!n.read) title.prepend(el("span", `${T.t("notices_new")} `, "badge"));
      li.append(title, el("p", text.body));
      if (text.message) li.append(el("q", text.message));
      const when = T.jstTime(n.created_at);
      li.append(el("small", when));
      return li;
    }));
    $("notices-empty").hidden = items.length > 0;
    $("notices-more").hidden = next === null;
    showCount();
  }

  async function load(more) {
    try {
      const page = await T.call("GET", `/v1/notices?limit=20${more && next ? `&before=${next}` : ""}`);
      items = more ? items.concat(page.items) : page.items;
      next = page.next_before;
      unread = page.unread;
      draw();
    } catch (e) {
      T.showError("notices-error", e);
    }
  }

  async function preferences() {
    try {
      const p = await T.call("GET", "/v1/notices/preferences");
      const form = $("notice-mail-form");
      form.hidden = false;
      form.elements.email_enabled.checked = p.email_enabled && p.email_on_file;
      form.querySelectorAll("label, button").forEach((node) => { node.hidden = !p.email_available; });
      $("notice-mail-state").textContent = T.t(
        !p.email_available ? "notices_mail_unavailable" : p.email_on_file ? "notices_mail_on_file" : "notices_mail_none",
      );
    } catch (e) {
      $("notice-mail-form").hidden = true;
    }
  }

  async function open() {
    T.show("notices");
    items = [];
    next = null;
    await load(false);
    await preferences();
  }

  $("bell").addEventListener("click", open);
  $("notices-more").addEventListener("click", () => load(true));
  $("notices-read-all").addEventListener("click", async () => {
    if (!items.length) return;
    try {
      const result = await T.call("POST", "/v1/notices/read", { up_to: Math.max(...items.map((n) => n.id)) });
      items = items.map((n) => ({ ...n, read: true }));
      unread = result.unread;
      draw();
    } catch (e) {
      T.showError("notices-error", e);
    }
  });
  $("notice-mail-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.target;
    const email = form.elements.email.value.trim();
    try {
      await T.call("PUT", "/v1/notices/preferences", { email_enabled: form.elements.email_enabled.checked, email: email || null });
      form.elements.email.value = "";
      await preferences();
      $("notice-mail-state").textContent = `${T.t("notices_mail_saved")} — ${$("notice-mail-state").textContent}`;
    } catch (e) {
      T.showError("notices-error", e);
    }
  });

  // the bell follows the session: counted whenever the home screen appears, hidden on log-out
  new MutationObserver(() => { if (!$("home").hidden) count(); }).observe($("home"), { attributes: true, attributeFilter: ["hidden"] });
  document.addEventListener("takasago:logged-out", () => { $("bell").hidden = true; });
  $("logout").addEventListener("click", () => { $("bell").hidden = true; });
  document.addEventListener("takasago:language", () => {
    if ($("notices").hidden) return showCount();
    draw();
    return preferences();
  });
  document.addEventListener("visibilitychange", () => { if (!document.hidden) count(); });
  setInterval(() => { if (!document.hidden) count(); }, 60000);
  count();
})();
