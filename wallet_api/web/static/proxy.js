/* Proxies (代理, issue 20) in the resident app: a family member or carer the counter recorded acts for a
   resident from their own phone — sees the balance, sends thanks from the resident's points within the
   day's limit, reports a lost card — and a resident sees who acts for them, what they did, and ends it. */
"use strict";

(() => {
  const T = TAKASAGO;
  const $ = (id) => document.getElementById(id);
  const el = T.el;
  let acting = null; // the proxy link I am using now

  T.addTexts({
    ja: {
      proxy: "代理（家族のために）", proxy_intro: "市役所の窓口で登録された代理人として、ご家族のポイントを見たり、ありがとうを送ったりできます。すべての操作は記録され、ご本人にも表示されます。",
      proxy_none: "ありません", proxy_to: "送る相手（会員コード）", proxy_send_thanks: "代理でありがとうを送る",
      proxy_block_card: "カードの紛失を届ける（すぐ停止）", proxy_mine: "わたしの代理人", proxy_act: "代理で操作",
      proxy_limit: "1日の上限", proxy_used: "きょう使用", proxy_sent: "送りました（代理として記録されました）",
      proxy_blocked: "カードを停止しました", proxy_end: "代理をやめる", proxy_for: "の代理",
    },
    en: {
      proxy: "Acting for family", proxy_intro: "As a proxy registered at the city counter you can see a family member's points and send thanks for them. Everything is recorded and shown to them.",
      proxy_none: "None", proxy_to: "To (member code)", proxy_send_thanks: "Send thanks for them",
      proxy_block_card: "Report their card lost (blocks it now)", proxy_mine: "Who acts for me", proxy_act: "Act for",
      proxy_limit: "daily limit", proxy_used: "used today", proxy_sent: "Sent (recorded as done by you for them)",
      proxy_blocked: "The card is blocked", proxy_end: "End", proxy_for: ": acting for",
    },
  });

  async function load() {
    T.show("proxy");
    $("proxy-thanks-form").hidden = true;
    $("proxy-done").hidden = true;
    try {
      const links = await T.call("GET", "/v1/me/proxies");
      $("proxy-for").replaceChildren(...links.i_act_for.map((l) => {
        const li = el("li", null, { "data-principal": l.principal });
        li.append(el("span", `${l.principal_name}（${l.relationship}）`),
          el("small", `${T.t("proxy_limit")} ${T.formatPoints(l.daily_limit)} ／ ${T.t("proxy_used")} ${T.formatPoints(l.used_today)}`));
        const act = el("button", T.t("proxy_act"), { type: "button", class: "act" });
        act.addEventListener("click", () => open(l));
        li.append(act);
        return li;
      }));
      $("proxy-for-empty").hidden = links.i_act_for.length > 0;
      $("proxy-mine").replaceChildren(...links.acting_for_me.map((l) => {
        const li = el("li", null, { "data-proxy": l.proxy });
        li.append(el("span", `${l.proxy_name}（${l.relationship}）: ${l.scopes.join(", ")}`),
          el("small", l.actions.map((a) => `${T.jstTime(a.at)} ${a.action} ${a.points || ""}`).join(" ／ ")));
        const end = el("button", T.t("proxy_end"), { type: "button" });
        end.addEventListener("click", async () => { await T.call("POST", `/v1/me/proxies/${l.id}/revoke`); await load(); });
        li.append(end);
        return li;
      }));
      $("proxy-mine-empty").hidden = links.acting_for_me.length > 0;
    } catch (e) {
      T.showError("proxy-error", e);
    }
  }

  async function open(link) {
    acting = link;
    $("proxy-acting").textContent = `${link.principal_name} ${T.t("proxy_for")}`;
    $("proxy-thanks-form").hidden = false;
    $("proxy-block-card").hidden = !link.scopes.includes("card");
    $("proxy-thanks-form").querySelector("button[type=submit]").hidden = !link.scopes.includes("thanks");
    if (link.scopes.includes("balance")) {
      try {
        const seen = await T.call("GET", `/v1/proxy/${link.principal}/balance`);
        $("proxy-balance").textContent = T.formatPoints(seen.balance);
      } catch (e) {
        T.showError("proxy-error", e);
      }
    }
  }

  $("go-proxy").addEventListener("click", () => load());
  $("proxy-thanks-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const f = event.target.elements;
    try {
      await T.move(`/v1/proxy/${acting.principal}/thanks`, { to: f.to.value.trim(), amount: Number(f.amount.value), message: f.message.value });
      event.target.reset();
      await load();
      $("proxy-done").textContent = T.t("proxy_sent");
      $("proxy-done").hidden = false;
    } catch (e) {
      T.showError("proxy-error", e);
    }
  });
  $("proxy-block-card").addEventListener("click", async () => {
    try {
      await T.call("POST", `/v1/proxy/${acting.principal}/card/block`);
      $("proxy-done").textContent = T.t("proxy_blocked");
      $("proxy-done").hidden = false;
    } catch (e) {
      T.showError("proxy-error", e);
    }
  });
})();
