/* The city counter (窓口): find or sign up a resident with no phone, issue a card after the resident
   types a PIN on the PIN pad (a full screen turned to them; the PIN goes straight to the server and
   never appears here), block a lost card, hand over a one-time password code on paper, print a
   balance slip. Every action is recorded, and listed at the bottom. */
"use strict";

(() => {
  const T = TAKASAGO;
  const $ = (id) => document.getElementById(id);
  const el = T.el;
  let current = null; // the selected member (search result view)
  let pad = null; // {entry, purpose, first, digits}

  T.addTexts({
    ja: {
      title_counter: "たかさごポイント 窓口", c_search: "住民をさがす", c_name: "氏名", c_dob: "生年月日",
      c_member_code: "会員コード", c_reason: "閲覧の理由（記録されます）", c_reason_example: "例：残高の問い合わせ",
      c_search_button: "検索", c_none: "見つかりません", c_signup: "窓口で登録する",
      c_signup_hint: "スマートフォンもメールも不要です。本人確認書類を確認してから登録してください。登録と同時に承認されます。",
      c_address: "住所", c_wareki_hint: "和暦の例：昭和16年5月3日 → 1941-05-03（昭和＝1925＋年、平成＝1988＋年、令和＝2018＋年）",
      c_id_document: "確認した本人確認書類", c_doc_mynumber: "マイナンバーカード", c_doc_licence: "運転免許証",
      c_doc_insurance: "健康保険証＋年金手帳", c_doc_other: "その他", c_signup_button: "本人確認のうえ登録",
      c_duplicates: "同じ氏名・生年月日（または住所）の登録がすでにあります。二重登録でないか確認してください：",
      c_member: "選択中の住民", c_issue_card: "カードを発行（暗証番号）", c_reset_pin: "暗証番号の再設定",
      c_reset_code: "アプリのパスワード再設定コード", c_block_reason: "停止の理由（例：紛失届）", c_block: "カードを停止",
      c_slip_reason: "印刷の理由（例：本人の依頼）", c_slip: "残高票を印刷", c_trail: "窓口の操作記録",
      c_pinpad_title: "暗証番号（6桁）を入力してください", c_pinpad_again: "確認のため、もう一度入力してください",
      c_card_ready: "カードができました。印刷してお渡しください。", c_pin_changed: "暗証番号を変更しました。",
      c_blocked: "カードを停止しました。どのお店でも使えません。", c_code_title: "アプリのパスワード再設定コード",
      c_code_note: "アプリの「パスワードを忘れた」からログインIDとこのコードを入力してください。24時間・1回限り有効です。",
      c_slip_title: "ポイント残高のお知らせ", c_expires: "有効期限", c_select: "選ぶ", c_card_none: "カードなし",
      c_card_active: "カードあり", c_card_blocked: "カード停止中", c_selected: "選択中", c_login_shown: "ログインID",
      c_help: "お問い合わせ：高砂市役所 窓口（平日 8:30〜17:15）", c_clear: "消す",
      c_recovery_reason: "復旧の理由（例：スマホ紛失・本人来庁）", c_recovery: "アカウントの復旧を始める", c_recovery_status: "復旧の状況",
      c_recovery_state: "状態", c_recovery_commands: "登録担当職員が自分の鍵で実行するコマンド（2つ目は待機期間の後）",
      c_state_prepared: "準備済み（台帳での手続き待ち）", c_state_recovered: "新しい鍵に切り替え済み（ポイント移動待ち）",
      c_state_done: "完了（ポイントは有効期限ごと移動済み）", c_state_moved_out: "台帳が別の宛先へ復旧しました（要確認）",
      c_executable: "完了できる日時",
      c_proxies: "代理人", c_proxy_code: "代理人の会員コード（本人確認済みの住民）", c_relationship: "続柄・関係",
      c_relationship_example: "例：娘、ケアマネジャー", c_scopes: "できること", c_scope_balance: "残高を見る",
      c_scope_thanks: "ありがとうを送る", c_scope_pay: "お店で支払う", c_scope_help: "困りごとを依頼する",
      c_scope_card: "カードの紛失を届ける", c_daily_limit: "1日の上限（ポイント）", c_proxy_reason: "確認した内容（記録されます）",
      c_proxy_reason_example: "例：本人と代理人の本人確認書類、続柄を確認", c_proxy_add: "代理人を登録", c_proxy_end: "取り消す",
    },
    en: {
      title_counter: "Takasago Points — counter", c_search: "Find a resident", c_name: "Full name", c_dob: "Date of birth",
      c_member_code: "Member code", c_reason: "Reason for looking (recorded)", c_reason_example: "e.g. balance enquiry",
      c_search_button: "Search", c_none: "No one found", c_signup: "Sign up at the counter",
      c_signup_hint: "No phone or e-mail needed. Check an ID document first; the account is approved at once.",
      c_address: "Address", c_wareki_hint: "Japanese era dates: Shōwa year + 1925, Heisei + 1988, Reiwa + 2018 (e.g. S16-05-03 → 1941-05-03)",
      c_id_document: "ID document checked", c_doc_mynumber: "My Number card", c_doc_licence: "Driving licence",
      c_doc_insurance: "Health insurance + pension book", c_doc_other: "Other", c_signup_button: "Sign up (ID checked)",
      c_duplicates: "Someone with the same name and birth date (or address) is already registered. Check this is not a second account:",
      c_member: "Selected resident", c_issue_card: "Issue a card (PIN)", c_reset_pin: "Reset the PIN",
      c_reset_code: "App password reset code", c_block_reason: "Why (e.g. reported lost)", c_block: "Block the card",
      c_slip_reason: "Why (e.g. asked by the resident)", c_slip: "Print a balance slip", c_trail: "Counter actions",
      c_pinpad_title: "Please enter a 6-digit PIN", c_pinpad_again: "Please enter it once more",
      c_card_ready: "The card is ready: print it and hand it over.", c_pin_changed: "The PIN has been changed.",
      c_blocked: "The card is blocked at every shop.", c_code_title: "App password reset code",
      c_code_note: "In the app choose “Forgot password” and enter your log-in ID and this code. Valid once, for 24 hours.",
      c_slip_title: "Your points balance", c_expires: "expires", c_select: "Select", c_card_none: "no card",
      c_card_active: "card", c_card_blocked: "card blocked", c_selected: "selected", c_login_shown: "Log-in ID",
      c_help: "Questions: Takasago City Hall counter (weekdays 8:30–17:15)", c_clear: "Clear",
      c_recovery_reason: "Why (e.g. phone lost, resident came in)", c_recovery: "Start recovering the account", c_recovery_status: "Recovery status",
      c_recovery_state: "State", c_recovery_commands: "Commands a registrar officer runs with their own key (the second after the waiting period)",
      c_state_prepared: "prepared (waiting for the ledger)", c_state_recovered: "new key in use (points not moved yet)",
      c_state_done: "done (points moved with their expiry)", c_state_moved_out: "the ledger recovered it elsewhere (check)",
      c_executable: "can be completed from",
      c_proxies: "Proxies", c_proxy_code: "Proxy's member code (a verified resident)", c_relationship: "Relationship",
      c_relationship_example: "e.g. daughter, care manager", c_scopes: "May", c_scope_balance: "see the balance",
      c_scope_thanks: "send thanks", c_scope_pay: "pay at shops", c_scope_help: "post help requests",
      c_scope_card: "report the card lost", c_daily_limit: "Points a day (at most)", c_proxy_reason: "What was checked (recorded)",
      c_proxy_reason_example: "e.g. both IDs and the relationship checked", c_proxy_add: "Register the proxy", c_proxy_end: "End",
    },
  });

  async function start() {
    T.bindSettings();
    if (!T.tokens.access) return T.show("login");
    try {
      const me = await T.call("GET", "/v1/me");
      if (me.role !== "officer") { T.tokens.clear(); return T.show("login"); }
      $("who").textContent = `${me.display_name || me.login}`;
    } catch (e) {
      return T.show("login");
    }
    $("logout").hidden = false;
    T.show("counter");
    await trail();
  }

  function cardState(m) {
    if (!m.card) return T.t("c_card_none");
    return m.card.blocked ? T.t("c_card_blocked") : T.t("c_card_active");
  }

  async function proxies() {
    const links = await T.call("GET", `/v1/counter/members/${current.id}/proxies`);
    $("proxies").replaceChildren(...links.map((l) => {
      const li = el("li", null, { "data-proxy": l.proxy });
      li.append(el("span", `${l.proxy_name}（${l.relationship}）: ${l.scopes.join(", ")} ／ ${T.formatPoints(l.daily_limit)}` +
        (l.revoked_at ? " ／ ✕" : "")));
      if (!l.revoked_at) {
        const end = el("button", T.t("c_proxy_end"), { type: "button" });
        end.addEventListener("click", async () => {
          await T.call("POST", `/v1/counter/proxies/${l.id}/revoke`, { reason: "窓口で取り消し" });
          await proxies();
          await trail();
        });
        li.append(end);
      }
      return li;
    }));
  }

  function select(m, keepPrintout = false) {
    current = m;
    proxies().catch((e) => T.showError("counter-error", e));
    $("member").hidden = false;
    $("member-line").textContent = [m.record.name || "", m.record.date_of_birth || "", m.record.address || "",
      `${m.short_code}`, `${T.t("c_login_shown")}: ${m.login}`, m.status, cardState(m)].join(" ／ ");
    if (keepPrintout) return;
    $("printout").hidden = true;
    $("print").hidden = true;
  }

  async function refresh() {
    if (!current) return;
    const found = await T.call("POST", "/v1/counter/search", { reason: "操作後の再表示", member_code: current.short_code });
    if (found.length) select(found[0], true);
    await trail();
  }

  async function trail() {
    const rows = await T.call("GET", "/v1/counter/trail?limit=30");
    $("trail").replaceChildren(...rows.map((r) => el("li", [T.jstTime(r.at),
      r.officer, r.member || "", r.action, r.reason].filter(Boolean).join(" ／ "), { "data-action": r.action })));
  }

  function printout(...nodes) {
    $("printout").replaceChildren(...nodes);
    $("printout").hidden = false;
    $("print").hidden = false;
  }

  $("search-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const f = event.target.elements;
    const body = { reason: f.reason.value };
    if (f.name.value.trim()) body.name = f.name.value.trim();
    if (f.date_of_birth.value) body.date_of_birth = f.date_of_birth.value;
    if (f.member_code.value.trim()) body.member_code = f.member_code.value.trim();
    try {
      const found = await T.call("POST", "/v1/counter/search", body);
      $("results").replaceChildren(...found.map((m) => {
        const li = el("li", null, { "data-id": m.id });
        li.append(el("span", [m.record.name || "", m.record.date_of_birth || "", m.short_code, m.status, cardState(m)].join(" ／ ")));
        const b = el("button", T.t("c_select"), { type: "button" });
        b.addEventListener("click", () => select(m));
        li.append(b);
        return li;
      }));
      $("results-empty").hidden = found.length > 0;
      await trail();
    } catch (e) {
      T.showError("counter-error", e);
    }
  });

  $("signup-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const f = event.target.elements;
    const body = { full_name: f.full_name.value.trim(), postal_address: f.postal_address.value.trim(),
      date_of_birth: f.date_of_birth.value, id_document: f.id_document.value };
    try {
      const done = await T.move("/v1/counter/signups", body);
      $("duplicates").hidden = done.duplicates.length === 0;
      $("duplicates").textContent = `${T.t("c_duplicates")} ${done.duplicates.map((d) => d.short_code).join(", ")}`;
      event.target.reset();
      const found = await T.call("POST", "/v1/counter/search", { reason: "窓口での新規登録", member_code: done.member.short_code });
      select(found[0]);
      await trail();
    } catch (e) {
      T.showError("counter-error", e);
    }
  });

  // ---- the PIN pad ------------------------------------------------------------------------------
  function drawPad() {
    $("pinpad-dots").textContent = "●".repeat(pad.digits.length) + "○".repeat(6 - pad.digits.length);
    $("pinpad-title").textContent = T.t(pad.first === null ? "c_pinpad_title" : "c_pinpad_again");
  }

  async function openPad(purpose) {
    try {
      const opened = await T.call("POST", `/v1/counter/members/${current.id}/pin-entries`, { purpose });
      pad = { entry: opened.entry, purpose, first: null, digits: "" };
      $("pinpad-error").hidden = true;
      T.show("pinpad");
      drawPad();
    } catch (e) {
      T.showError("counter-error", e);
    }
  }

  async function padDone() {
    const { entry, purpose, first, digits } = pad;
    pad = null;
    T.show("counter");
    try {
      const made = await T.call("POST", `/v1/counter/pin-entries/${entry}`, { pin: first, pin_again: digits });
      if (purpose === "new_card") {
        const img = el("img", null, { class: "qr", alt: "", id: "counter-card-qr" });
        img.src = T.svgUrl(made.qr_svg);
        printout(el("p", T.t("title_app"), { class: "card-title" }), img, el("p", current.short_code, { class: "code" }),
          el("p", T.t("c_card_ready"), { class: "note" }));
      } else {
        printout(el("p", T.t("c_pin_changed")));
      }
      await refresh();
    } catch (e) {
      T.showError("counter-error", e);
    }
  }

  function press(key) {
    if (!pad) return;
    if (key === "⌫") pad.digits = pad.digits.slice(0, -1);
    else if (pad.digits.length < 6) pad.digits += key;
    drawPad();
    if (pad.digits.length === 6) {
      if (pad.first === null) {
        pad.first = pad.digits;
        pad.digits = "";
        setTimeout(drawPad, 150);
      } else {
        padDone();
      }
    }
  }

  $("pinpad-keys").replaceChildren(...["1", "2", "3", "4", "5", "6", "7", "8", "9", "⌫", "0"].map((k) => {
    const b = el("button", k, { type: "button", "data-key": k });
    b.addEventListener("click", () => press(k));
    return b;
  }));
  $("pinpad-cancel").addEventListener("click", () => { pad = null; T.show("counter"); });
  $("issue-card").addEventListener("click", () => openPad("new_card"));
  $("reset-pin").addEventListener("click", () => openPad("reset_pin"));

  $("block-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await T.call("POST", `/v1/counter/members/${current.id}/card/block`, { reason: event.target.elements.reason.value });
      event.target.reset();
      printout(el("p", T.t("c_blocked")));
      await refresh();
    } catch (e) {
      T.showError("counter-error", e);
    }
  });

  $("reset-code").addEventListener("click", async () => {
    try {
      const made = await T.call("POST", `/v1/counter/members/${current.id}/reset-code`);
      printout(el("p", T.t("c_code_title"), { class: "card-title" }), el("p", `${T.t("c_login_shown")}: ${made.login}`),
        el("p", made.code.replace(/(.{5})/, "$1-"), { class: "code", id: "reset-code-value" }), el("p", T.t("c_code_note"), { class: "note" }));
      await trail();
    } catch (e) {
      T.showError("counter-error", e);
    }
  });

  $("slip-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const slip = await T.call("POST", `/v1/counter/members/${current.id}/slip`, { reason: event.target.elements.reason.value });
      event.target.reset();
      const list = el("ul", null, { class: "history" });
      list.append(...slip.buckets.map((b) => el("li", `${T.t("c_expires")} ${T.formatDate(b.expires_at)}: ${T.formatPoints(b.amount)}`)));
      printout(el("p", T.t("c_slip_title"), { class: "card-title" }), el("p", `${slip.name} 様（${slip.short_code}）`),
        el("p", T.formatPoints(slip.balance), { class: "big-balance", id: "slip-balance" }), list,
        el("p", T.jstTime(slip.printed_at)), el("p", T.t("c_help"), { class: "note" }));
      await trail();
    } catch (e) {
      T.showError("counter-error", e);
    }
  });
  function showRecovery(r) {
    const lines = [el("p", `${T.t("c_recovery_state")}: ${T.t(`c_state_${r.state}`)}`, { id: "recovery-state", "data-state": r.state })];
    if (r.executable_at) lines.push(el("p", `${T.t("c_executable")}: ${T.jstTime(r.executable_at)}`));
    if (r.state === "prepared") {
      lines.push(el("p", T.t("c_recovery_commands"), { class: "note" }));
      lines.push(...r.commands.map((c) => el("pre", c, { class: "command" })));
    }
    printout(...lines);
  }

  $("recovery-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      showRecovery(await T.call("POST", `/v1/counter/members/${current.id}/recovery`, { reason: event.target.elements.reason.value }));
      event.target.reset();
      await trail();
    } catch (e) {
      T.showError("counter-error", e);
    }
  });
  $("recovery-status").addEventListener("click", async () => {
    try {
      showRecovery(await T.call("GET", `/v1/counter/members/${current.id}/recovery`));
    } catch (e) {
      T.showError("counter-error", e);
    }
  });
  $("proxy-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const f = event.target.elements;
    const scopes = [...event.target.querySelectorAll("input[name=scope]:checked")].map((c) => c.value);
    try {
      await T.call("POST", `/v1/counter/members/${current.id}/proxies`, { proxy_member_code: f.proxy_member_code.value.trim(),
        relationship: f.relationship.value.trim(), scopes, daily_limit: Number(f.daily_limit.value), reason: f.reason.value });
      f.proxy_member_code.value = "";
      f.reason.value = "";
      await proxies();
      await trail();
    } catch (e) {
      T.showError("counter-error", e);
    }
  });
  $("print").addEventListener("click", () => window.print());

  T.bindSession(start, () => T.show("login"));
  document.addEventListener("takasago:language", () => {
    if (current) select(current, true);
    if (!$("counter").hidden) trail().catch(() => {}); // the times in the chosen language's convention
  });
  start();
})();
