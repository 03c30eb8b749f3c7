/* The resident's account outside the daily screens (issue 20): a new password with the one-time code
   handed over at the city counter, the sign-up form's rules said before anyone types (log-in
   characters, password length, Japanese era dates), and a lost card blocked at once. */
"use strict";

(() => {
  const T = TAKASAGO;
  const $ = (id) => document.getElementById(id);

  T.addTexts({
    ja: {
      forgot_password: "パスワードを忘れた方",
      reset_intro: "市役所の窓口で本人確認のうえ「再設定コード」を紙でお渡しします。ログインIDとそのコードを入力してください（24時間・1回限り有効）。",
      reset_code: "再設定コード（窓口でお渡しした紙）", new_password: "新しいパスワード（10文字以上）",
      reset_button: "パスワードを設定する", reset_done: "新しいパスワードを設定しました。ログインしてください。",
      login_rule: "半角の英字・数字と . _ @ + - で3〜64文字（例：takasago.hana）",
      password_rule: "10文字以上。他のサービスと同じものは避けてください。",
      dob_rule: "西暦で入力します。和暦の例：昭和55年4月1日 → 1980-04-01（昭和＝1925＋年、平成＝1988＋年、令和＝2018＋年）",
      pending_next: "このあとの流れ",
      pending_bring: "本人確認書類（マイナンバーカード、運転免許証など）を持って、市役所の窓口にお越しください。",
      pending_check: "職員が登録内容と書類を確認します（その場で承認します）。",
      pending_hear: "結果はこのアプリ（ログインすると表示）と、メールを登録した方にはメールでお知らせします。",
      block_card: "カードをなくした（すぐに停止）", block_card_confirm: "カードを停止します。停止したカードはどのお店でも使えなくなります。よろしいですか？",
      block_card_done: "カードを停止しました。新しいカードはこの画面か市役所の窓口で発行できます（残高はそのままです）。",
    },
    en: {
      forgot_password: "Forgot your password?",
      reset_intro: "At the city counter, after checking your ID, we hand you a reset code on paper. Enter your log-in ID and that code (valid once, for 24 hours).",
      reset_code: "Reset code (the paper from the counter)", new_password: "New password (10 characters or more)",
      reset_button: "Set the password", reset_done: "Your new password is set. Please log in.",
      login_rule: "3 to 64 characters: letters, digits and . _ @ + - (e.g. takasago.hana)",
      password_rule: "10 characters or more; not one you use elsewhere.",
      dob_rule: "Western calendar. Japanese era dates: Shōwa 55-04-01 → 1980-04-01 (Shōwa + 1925, Heisei + 1988, Reiwa + 2018)",
      pending_next: "What happens next",
      pending_bring: "Bring an ID document (My Number card, driving licence …) to the city hall counter.",
      pending_check: "An officer checks your details against it (and approves you there).",
      pending_hear: "You will see the result in this app when you log in, and by e-mail if you gave an address.",
      block_card: "I lost my card (block it now)", block_card_confirm: "Block the card? It will not work at any shop from now on.",
      block_card_done: "The card is blocked. Get a new one here or at the city counter (your balance stays).",
    },
  });

  // birth dates the wallet accepts: not in the future, not more than 120 years ago
  const today = new Date();
  $("signup-dob").max = today.toISOString().slice(0, 10);
  $("signup-dob").min = `${today.getFullYear() - 120}-12-31`;

  $("to-reset").addEventListener("click", () => { T.show("reset"); $("reset-done").hidden = true; });
  $("reset-to-login").addEventListener("click", () => T.show("login"));
  $("reset-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const f = event.target.elements;
    try {
      await T.call("POST", "/v1/auth/reset-password", { login: f.login.value.trim(), code: f.code.value.trim(), new_password: f.new_password.value });
      event.target.reset();
      $("reset-done").hidden = false;
    } catch (e) {
      T.showError("reset-error", e);
    }
  });

  $("block-card").addEventListener("click", async () => {
    if (!window.confirm(T.t("block_card_confirm"))) return;
    try {
      await T.call("POST", "/v1/me/card/block");
      $("block-card-done").hidden = false;
    } catch (e) {
      T.showError("block-card-error", e);
    }
  });
})();
