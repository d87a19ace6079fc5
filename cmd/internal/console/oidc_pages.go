package console

import (
	"html/template"
	"net/http"
	"strings"
)

// signInError is a page saying, in Chinese and in English, why a sign-in
// did not complete and what to do.
type signInError struct {
	Status int
	Zh, En string
}

var signInTemplate = template.Must(template.New("signin").Parse(`<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>登录未完成 · Sign-in not completed</title>
<link rel="stylesheet" href="{{.Home}}style.css">
</head>
<body>
<main class="signin-error">
<h1>登录未完成 <small lang="en">Sign-in not completed</small></h1>
<p id="reason">{{.Zh}}</p>
<p id="reason-en" lang="en">{{.En}}</p>
<p><a href="{{.Home}}#/login">返回登录 · Back to sign-in</a></p>
</main>
</body>
</html>
`))

// signInPage answers a sign-in error page (styled by the console's own
// sheet: the content security policy allows nothing else).
func (c *Console) signInPage(w http.ResponseWriter, r *http.Request, e signInError) {
	home := "./"
	if strings.HasSuffix(r.URL.Path, "/login/callback") {
		home = "../"
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(e.Status)
	_ = signInTemplate.Execute(w, struct {
		Home   string
		Zh, En string
	}{home, e.Zh, e.En})
}

func pageNotConfigured() signInError {
	return signInError{http.StatusNotFound, "本控制台未配置城市统一身份登录：请使用令牌登录，或请管理员配置 WHISTLE_CONSOLE_OIDC_*。",
		"This console has no sign-in with the city's account: sign in with a token, or ask the administrator to set WHISTLE_CONSOLE_OIDC_*."}
}

func pageProviderDown(issuer string) signInError {
	return signInError{http.StatusBadGateway, "无法连接城市统一身份认证（" + issuer + "）：请稍后重试；如持续出现，请联系管理员。",
		"The city's identity provider (" + issuer + ") did not answer: try again in a minute; if it goes on, tell the administrator."}
}

func pageBusy() signInError {
	return signInError{http.StatusServiceUnavailable, "同时进行的登录过多：请稍后重试。",
		"Too many sign-ins are under way: try again in a minute."}
}

func pageBadState() signInError {
	return signInError{http.StatusBadRequest, "此次登录无效、已过期或已使用（登录须在 10 分钟内完成，且只能使用一次）：请返回控制台重新登录。",
		"This sign-in is unknown, has expired or was already used (a sign-in must finish within 10 minutes, once): go back to the console and sign in again."}
}

func pageOtherBrowser() signInError {
	return signInError{http.StatusBadRequest, "此次登录不是在本浏览器中发起的（或浏览器拦截了登录所需的 Cookie）：请在本浏览器中返回控制台重新登录。",
		"This sign-in was not started in this browser (or the browser blocked the sign-in's cookie): go back to the console in this browser and sign in again."}
}

func pageProviderRefused(code, desc string) signInError {
	return signInError{http.StatusUnauthorized, "统一身份认证拒绝了登录（" + code + "）：" + desc + " 请重新登录；如无法登录，请联系管理员。",
		"The city's identity provider refused the sign-in (" + code + "): " + desc + " Sign in again; if you cannot, ask your administrator."}
}

func pageExchangeFailed() signInError {
	return signInError{http.StatusBadGateway, "统一身份认证未能兑换此次登录的授权码：请重新登录；如持续出现，请联系管理员（检查客户端 ID、密钥和回调地址）。",
		"The city's identity provider did not exchange this sign-in's code: sign in again; if it goes on, tell the administrator (check the client id, secret and redirect URL)."}
}

func pageNoIDToken() signInError {
	return signInError{http.StatusBadGateway, "统一身份认证没有返回身份令牌（ID token）：请管理员为本控制台的客户端开启 openid 范围。",
		"The city's identity provider sent no ID token: ask the administrator to allow the openid scope for the console's client."}
}

func pageBadIDToken() signInError {
	return signInError{http.StatusUnauthorized, "统一身份认证返回的身份令牌未通过校验（签发方、受众、有效期或一次性随机数不符）：请重新登录；如持续出现，请联系管理员。",
		"The ID token from the city's identity provider did not verify (issuer, audience, expiry or nonce): sign in again; if it goes on, tell the administrator."}
}

func pageNoRole(claim, subject string) signInError {
	return signInError{http.StatusForbidden,
		"您的账号（" + subject + "）没有吹哨系统的角色：请联系管理员，在统一身份认证中为您的账号的 " + claim +
			" 声明设置以下角色之一：community_officer、street_officer、department_handler、department_lead、monitor、admin、reporter。",
		"Your account (" + subject + ") has no Whistle role: ask your administrator to give your account, in the city's identity provider's " + claim +
			" claim, one of the roles community_officer, street_officer, department_handler, department_lead, monitor, admin or reporter."}
}

func pageNoOrgUnit(claim, subject, org string) signInError {
	return signInError{http.StatusForbidden,
		"您的账号（" + subject + "）没有有效的所属单位（" + claim + " 声明：“" + org + "”）：请联系管理员，在统一身份认证中为您的账号设置目录中的单位编码，例如 xc-urban。",
		"Your account (" + subject + ") has no valid org unit (claim " + claim + `: "` + org + `"): ask your administrator to set your account's org unit id from the catalog, e.g. xc-urban, in the city's identity provider.`}
}

func pageUnknownOrgUnit(claim, subject, org string) signInError {
	return signInError{http.StatusForbidden,
		"您的账号（" + subject + "）的所属单位 “" + org + "” 不在城市目录中：请联系管理员，更正统一身份认证中您账号的 " + claim + " 声明。",
		"Your account's (" + subject + `) org unit "` + org + `" is not in the city's catalog: ask your administrator to correct your account's ` + claim +
			" claim in the city's identity provider."}
}

func pageCatalogDown() signInError {
	return signInError{http.StatusServiceUnavailable, "暂时无法读取城市目录以核对您的所属单位：请稍后重新登录。",
		"The console cannot read the city's catalog to check your org unit just now: sign in again in a minute."}
}

func pageMintFailed() signInError {
	return signInError{http.StatusInternalServerError, "控制台无法签发令牌：请联系管理员（检查 WHISTLE_CONSOLE_SIGNING_KEY）。",
		"The console could not mint your token: tell the administrator (check WHISTLE_CONSOLE_SIGNING_KEY)."}
}
