/*
 * registry: pins an image reference to a digest over the OCI distribution API (libcurl).
 *
 *   GET /v2/<repository>/manifests/<tag|digest>, Accept: the OCI index and manifest and
 *   the Docker v2 list and manifest types. A 401 with 'WWW-Authenticate: Bearer realm=…,
 *   service=…,scope=…' → GET realm?service=…&scope=… (anonymously) → {"token": …} → the
 *   request again with 'Authorization: Bearer …'.
 *
 * Redirects are followed here, not by libcurl, at most 5: the Authorization header goes
 * only to the scheme, host and port that the registry answered from, never to another
 * (a blob store a registry redirects to gets none), and https never drops to http.
 * Every digest is the sha256 of the bytes received: a Docker-Content-Digest header that
 * disagrees, or content that does not match the digest asked for, is refused. An index
 * (or Docker manifest list) is narrowed to the host's platform, whose manifest is fetched
 * and checked too; a single manifest's platform comes from its config blob.
 *
 * Registries are reached by https, except loopback ones (127.0.0.0/8, ::1, localhost, as
 * docker does) and those config.yaml marks 'insecure: true', which are plain http.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "curl.h"
#include "registry.h"

#define MAX_MANIFEST (4u << 20)
#define MAX_TOKEN    (64u << 10)
#define MAX_REDIRECT 5

static const char accept_types[] = "Accept: application/vnd.oci.image.index.v1+json, "
				   "application/vnd.oci.image.manifest.v1+json, "
				   "application/vnd.docker.distribution.manifest.list.v2+json, "
				   "application/vnd.docker.distribution.manifest.v2+json";

/* ---- references ------------------------------------------------------------------------ */

static bool repo_ok(const char *s)
{
	const char *p;

	if (!*s || *s == '/' || s[strlen(s) - 1] == '/' || strstr(s, "//") || strlen(s) > 255) {
		return false;
	}
	for (p = s; *p; p++) {
		bool alnum = (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9');

		if (!alnum && *p != '.' && *p != '_' && *p != '-' && *p != '/') {
			return false;
		}
		/* Each component starts and ends with a letter or digit: no '.', '..'. */
		if (!alnum && *p != '/' && (p == s || p[-1] == '/' || p[1] == '/' || !p[1])) {
			return false;
		}
	}
	return true;
}

static bool tag_ok(const char *s)
{
	return *s && *s != '.' && *s != '-' && strlen(s) <= 128 &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") ==
		       strlen(s);
}

static bool digest_ok(const char *s)
{
	return !strncmp(s, "sha256:", 7) && moo__is_sha256_hex(s + 7);
}

static bool registry_name_ok(const char *s)
{
	return *s && *s != '-' &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]") ==
		       strlen(s);
}

void moo__imageref_dispose(struct moo__imageref *r)
{
	free(r->registry);
	free(r->repository);
	free(r->tag);
	free(r->digest);
	memset(r, 0, sizeof(*r));
}

int moo__imageref_parse(struct moo__imageref *out, const char *ref, struct moo_error **err)
{
	struct moo__imageref r = {0};
	const char *slash = strchr(ref, '/'), *rest = ref, *at, *colon;
	char *name = NULL;

	/* The first component is a registry when it has a '.' or ':' or is 'localhost'. */
	if (slash) {
		size_t n = (size_t)(slash - ref);

		if (memchr(ref, '.', n) || memchr(ref, ':', n) ||
		    (n == 9 && !strncmp(ref, "localhost", 9))) {
			r.registry = moo__strndup(ref, n);
			rest = slash + 1;
		}
	}
	if (!r.registry) {
		r.registry = moo__strdup("docker.io");
	}
	at = strchr(rest, '@');
	if (at) {
		r.digest = moo__strdup(at + 1);
		name = moo__strndup(rest, (size_t)(at - rest));
	} else {
		name = moo__strdup(rest);
	}
	colon = strrchr(name, ':');
	if (colon && !strchr(colon, '/')) {
		r.tag = moo__strdup(colon + 1);
		name[colon - name] = '\0';
	}
	if (!strcmp(r.registry, "docker.io") && !strchr(name, '/')) {
		r.repository = moo__printf("library/%s", name);
	} else {
		r.repository = moo__strdup(name);
	}
	free(name);
	if (!registry_name_ok(r.registry) || !repo_ok(r.repository) || (r.tag && !tag_ok(r.tag)) ||
	    (r.digest && !digest_ok(r.digest)) || (!r.tag && !r.digest)) {
		moo__error_hint(moo__error_add(err, MOO_EARG, MOO_SEV_ERROR,
					       "invalid image reference '%s'", ref),
				"write [registry/]repository:tag or …@sha256:<64 hex digits>, "
				"in lowercase");
		moo__imageref_dispose(&r);
		return MOO_EARG;
	}
	*out = r;
	return 0;
}

void moo__registry_conf(const struct moo__registries *regs, const char *name,
			struct moo__registry_conf *out)
{
	size_t i;

	memset(out, 0, sizeof(*out));
	for (i = 0; regs && i < regs->n; i++) {
		if (!strcmp(regs->v[i].name, name)) {
			out->mirror = regs->v[i].mirror;
			out->insecure = regs->v[i].insecure;
			return;
		}
	}
}

char *moo__registry_pull_ref(const struct moo__registries *regs, const char *ref)
{
	struct moo__imageref r;
	struct moo__registry_conf conf;
	char *out;

	if (moo__imageref_parse(&r, ref, NULL)) {
		return moo__strdup(ref);
	}
	moo__registry_conf(regs, r.registry, &conf);
	if (!conf.mirror) {
		out = moo__strdup(ref);
	} else {
		out = moo__printf("%s/%s%s%s%s%s", conf.mirror, r.repository, r.tag ? ":" : "",
				  r.tag ? r.tag : "", r.digest ? "@" : "",
				  r.digest ? r.digest : "");
	}
	moo__imageref_dispose(&r);
	return out;
}

/* ---- HTTP ----------------------------------------------------------------------------- */

struct resp {
	long status;
	struct moo_buf body;
	size_t max;
	bool too_big;
	char *digest;   /* Docker-Content-Digest */
	char *ctype;    /* Content-Type without parameters */
	char *www_auth; /* WWW-Authenticate */
	char *url;      /* the URL that answered (after redirects) */
};

static void resp_dispose(struct resp *r)
{
	moo_buf_dispose(&r->body);
	free(r->digest);
	free(r->ctype);
	free(r->www_auth);
	free(r->url);
	memset(r, 0, sizeof(*r));
}

static size_t on_body(char *data, size_t size, size_t n, void *ud)
{
	struct resp *r = ud;

	if (r->body.len + size * n > r->max) {
		r->too_big = true;
		return 0;
	}
	moo_buf_add(&r->body, data, size * n);
	return size * n;
}

static char *header_value(const char *line, size_t len, const char *name)
{
	size_t nl = strlen(name), end = len;

	if (len <= nl || strncasecmp(line, name, nl) || line[nl] != ':') {
		return NULL;
	}
	line += nl + 1;
	len -= nl + 1;
	while (len && (*line == ' ' || *line == '\t')) {
		line++;
		len--;
	}
	for (end = len;
	     end && (line[end - 1] == '\r' || line[end - 1] == '\n' || line[end - 1] == ' ');
	     end--) {
		;
	}
	return moo__strndup(line, end);
}

static size_t on_header(char *data, size_t size, size_t n, void *ud)
{
	struct resp *r = ud;
	size_t len = size * n;
	char *v;

	if (len >= 5 && !strncmp(data, "HTTP/", 5)) { /* a new response: forget the last's */
		free(r->digest);
		free(r->ctype);
		free(r->www_auth);
		r->digest = r->ctype = r->www_auth = NULL;
	} else if ((v = header_value(data, len, "Docker-Content-Digest"))) {
		free(r->digest);
		r->digest = v;
	} else if ((v = header_value(data, len, "Content-Type"))) {
		v[strcspn(v, "; ")] = '\0';
		free(r->ctype);
		r->ctype = v;
	} else if ((v = header_value(data, len, "WWW-Authenticate"))) {
		free(r->www_auth);
		r->www_auth = v;
	}
	return len;
}

struct client {
	CURL *h;
	char errbuf[CURL_ERROR_SIZE];
	char *base;   /* "https://registry-1.docker.io" */
	char *origin; /* the base's scheme://host:port: the only place a token is sent */
	char *token;
	const char *shown; /* the registry as the user named it, for messages */
};

/* "scheme://host:port" of url, or NULL when it is not an http(s) URL. Caller frees. */
static char *origin_of(const char *url)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *port = NULL, *o = NULL;

	if (!u || curl_url_set(u, CURLUPART_URL, url, 0) ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) ||
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT)) {
		goto done;
	}
	if (strcmp(scheme, "http") && strcmp(scheme, "https")) {
		goto done;
	}
	o = moo__printf("%s://%s:%s", scheme, host, port);
done:
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	return o;
}

static bool is_loopback(const char *host)
{
	return !strncmp(host, "127.", 4) || !strcmp(host, "localhost") || !strcmp(host, "[::1]") ||
	       !strcmp(host, "::1");
}

/*
 * GET url, following redirects by hand; the token goes only to c->origin. On success
 * r->status is the final status.
 */
static int http_get(struct client *c, const char *url, const char *accept, size_t max,
		    struct resp *r, struct moo_error **err)
{
	char *cur = moo__strdup(url), *o = NULL;
	struct curl_slist *hdrs = NULL;
	int hops, ret = MOO_ENET;

	for (hops = 0;; hops++) {
		CURLcode cc;
		char *auth = NULL, *next = NULL;

		free(o);
		o = origin_of(cur);
		if (!o) {
			ret = moo__fail(err, MOO_ENET, "registry '%s' sent an invalid URL '%s'",
					c->shown, cur);
			goto done;
		}
		resp_dispose(r);
		r->max = max;
		curl_slist_free_all(hdrs);
		hdrs = NULL;
		if (accept) {
			hdrs = curl_slist_append(hdrs, accept);
		}
		if (c->token && !strcmp(o, c->origin)) {
			auth = moo__printf("Authorization: Bearer %s", c->token);
			hdrs = curl_slist_append(hdrs, auth);
			free(auth);
		}
		curl_easy_reset(c->h);
		curl_easy_setopt(c->h, CURLOPT_URL, cur);
		curl_easy_setopt(c->h, CURLOPT_PROTOCOLS_STR, "http,https");
		curl_easy_setopt(c->h, CURLOPT_FOLLOWLOCATION, 0L);
		curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, hdrs);
		curl_easy_setopt(c->h, CURLOPT_USERAGENT, "moo");
		curl_easy_setopt(c->h, CURLOPT_ERRORBUFFER, c->errbuf);
		curl_easy_setopt(c->h, CURLOPT_CONNECTTIMEOUT, 10L);
		curl_easy_setopt(c->h, CURLOPT_LOW_SPEED_LIMIT, MOO__HTTP_LOW_SPEED_BPS);
		curl_easy_setopt(c->h, CURLOPT_LOW_SPEED_TIME, MOO__HTTP_LOW_SPEED_S);
		curl_easy_setopt(c->h, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(c->h, CURLOPT_WRITEFUNCTION, on_body);
		curl_easy_setopt(c->h, CURLOPT_WRITEDATA, r);
		curl_easy_setopt(c->h, CURLOPT_HEADERFUNCTION, on_header);
		curl_easy_setopt(c->h, CURLOPT_HEADERDATA, r);
		c->errbuf[0] = '\0';
		cc = curl_easy_perform(c->h);
		if (r->too_big) {
			ret = moo__fail(err, MOO_ENET,
					"registry '%s' sent more than %zu bytes for '%s'", c->shown,
					max, cur);
			goto done;
		}
		if (cc != CURLE_OK) {
			struct moo_error *e =
				moo__error_add(err, MOO_ENET, MOO_SEV_ERROR,
					       "cannot reach registry '%s'", c->shown);

			moo__error_cause(e, c->errbuf[0] ? c->errbuf : curl_easy_strerror(cc));
			moo__error_hint(e, "check the address, or set a mirror under "
					   "'registries:' in config.yaml");
			ret = MOO_ENET;
			goto done;
		}
		curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &r->status);
		if (r->status < 300 || r->status >= 400 || r->status == 304) {
			break;
		}
		curl_easy_getinfo(c->h, CURLINFO_REDIRECT_URL, &next);
		if (!next) {
			ret = moo__fail(err, MOO_ENET,
					"registry '%s' redirected without a location", c->shown);
			goto done;
		}
		if (hops >= MAX_REDIRECT) {
			ret = moo__fail(err, MOO_ENET,
					"registry '%s' redirected more than %d times", c->shown,
					MAX_REDIRECT);
			goto done;
		}
		if (!strncmp(cur, "https:", 6) && strncmp(next, "https:", 6)) {
			ret = moo__fail(err, MOO_ENET,
					"registry '%s' redirected from https to '%s'; refused",
					c->shown, next);
			goto done;
		}
		next = moo__strdup(next);
		free(cur);
		cur = next;
	}
	r->url = cur;
	cur = NULL;
	ret = 0;
done:
	free(cur);
	free(o);
	curl_slist_free_all(hdrs);
	return ret;
}

/* The value of key in a 'Bearer k="v",k2="v2"' challenge. Caller frees. */
static char *challenge_param(const char *ch, const char *key)
{
	size_t kl = strlen(key);
	const char *p = ch;

	while ((p = strstr(p, key))) {
		if ((p == ch || p[-1] == ' ' || p[-1] == ',') && p[kl] == '=') {
			const char *v = p + kl + 1, *end;

			if (*v == '"') {
				v++;
				end = strchr(v, '"');
			} else {
				end = v + strcspn(v, ", ");
			}
			return end ? moo__strndup(v, (size_t)(end - v)) : NULL;
		}
		p += kl;
	}
	return NULL;
}

static bool token_ok(const char *t)
{
	if (!*t) {
		return false;
	}
	for (; *t; t++) {
		if ((unsigned char)*t <= ' ' || *t == 0x7f) {
			return false;
		}
	}
	return true;
}

/* Answers the bearer challenge in r: gets a token from its realm into c->token. */
static int get_token(struct client *c, const struct resp *r, struct moo_error **err)
{
	char *realm = NULL, *service = NULL, *scope = NULL, *url = NULL;
	struct moo_buf q = MOO_BUF_INIT;
	struct resp tr = {0};
	json_t *j = NULL;
	const char *tok;
	int ret;

	if (!r->www_auth || strncasecmp(r->www_auth, "Bearer ", 7)) {
		ret = moo__fail(err, MOO_EHOST,
				"registry '%s' asks for credentials moo does not have (%s)",
				c->shown, r->www_auth ? r->www_auth : "no challenge");
		goto done;
	}
	realm = challenge_param(r->www_auth + 7, "realm");
	service = challenge_param(r->www_auth + 7, "service");
	scope = challenge_param(r->www_auth + 7, "scope");
	if (!realm || (strncmp(realm, "https://", 8) &&
		       !(strncmp(realm, "http://", 7) == 0 && !strncmp(c->base, "http:", 5)))) {
		ret = moo__fail(err, MOO_ENET, "registry '%s' names an unusable token realm '%s'",
				c->shown, realm ? realm : "");
		goto done;
	}
	moo_buf_puts(&q, realm);
	if (service || scope) {
		char *es = service ? curl_easy_escape(c->h, service, 0) : NULL;
		char *ep = scope ? curl_easy_escape(c->h, scope, 0) : NULL;

		moo_buf_printf(&q, "%s%s%s%s%s%s", strchr(realm, '?') ? "&" : "?",
			       es ? "service=" : "", es ? es : "", es && ep ? "&" : "",
			       ep ? "scope=" : "", ep ? ep : "");
		curl_free(es);
		curl_free(ep);
	}
	url = moo_buf_detach(&q);
	if ((ret = http_get(c, url, "Accept: application/json", MAX_TOKEN, &tr, err))) {
		goto done;
	}
	if (tr.status != 200) {
		ret = moo__fail(err, MOO_EHOST, "the token server of registry '%s' answered %ld",
				c->shown, tr.status);
		goto done;
	}
	j = json_loadb(tr.body.ptr ? tr.body.ptr : "", tr.body.len, 0, NULL);
	tok = json_string_value(json_object_get(j, "token"));
	if (!tok) {
		tok = json_string_value(json_object_get(j, "access_token"));
	}
	if (!tok || !token_ok(tok)) {
		ret = moo__fail(err, MOO_ENET, "the token server of registry '%s' sent no token",
				c->shown);
		goto done;
	}
	free(c->token);
	c->token = moo__strdup(tok);
	ret = 0;
done:
	json_decref(j);
	resp_dispose(&tr);
	moo_buf_dispose(&q);
	free(realm);
	free(service);
	free(scope);
	free(url);
	return ret;
}

/*
 * GETs /v2/<repo>/<kind>/<ref>, answering one bearer challenge; checks that the bytes
 * hash to want (when not NULL) and to the Docker-Content-Digest header (when sent).
 * *digest gets "sha256:…" of the bytes.
 */
static int fetch(struct client *c, const char *repo, const char *kind, const char *ref,
		 const char *want, struct resp *r, char **digest, struct moo_error **err)
{
	char *url = moo__printf("%s/v2/%s/%s/%s", c->base, repo, kind, ref);
	char hex[MOO__SHA256_HEX];
	bool manifest = !strcmp(kind, "manifests");
	int ret;

	ret = http_get(c, url, manifest ? accept_types : NULL, MAX_MANIFEST, r, err);
	if (!ret && r->status == 401 && !c->token) {
		if (!(ret = get_token(c, r, err))) {
			ret = http_get(c, url, manifest ? accept_types : NULL, MAX_MANIFEST, r,
				       err);
		}
	}
	if (ret) {
		goto done;
	}
	if (r->status == 404) {
		moo__error_hint(moo__error_add(err, MOO_ERESOLVE, MOO_SEV_ERROR,
					       "registry '%s' has no %s '%s' in '%s'", c->shown,
					       manifest ? "manifest" : "blob", ref, repo),
				"check the image reference, or push the image to the registry");
		ret = MOO_ERESOLVE;
		goto done;
	}
	if (r->status == 401 || r->status == 403) {
		ret = moo__fail(err, MOO_EHOST, "registry '%s' refused access to '%s' (HTTP %ld)",
				c->shown, repo, r->status);
		goto done;
	}
	if (r->status != 200) {
		ret = moo__fail(err, MOO_ENET, "registry '%s' answered HTTP %ld for '%s'", c->shown,
				r->status, url);
		goto done;
	}
	moo__sha256_buf(r->body.ptr ? r->body.ptr : "", r->body.len, hex);
	*digest = moo__printf("sha256:%s", hex);
	if (manifest && r->digest && strcmp(r->digest, *digest)) {
		moo__error_hint(
			moo__error_add(err, MOO_ENET, MOO_SEV_ERROR,
				       "registry '%s' says '%s:%s' is %s, but its bytes are "
				       "%s; refused",
				       c->shown, repo, ref, r->digest, *digest),
			"something between moo and the registry changed the answer; "
			"check the mirror or proxy");
		ret = MOO_ENET;
		goto done;
	}
	if (want && strcmp(want, *digest)) {
		moo__error_hint(moo__error_add(err, MOO_ENET, MOO_SEV_ERROR,
					       "registry '%s' sent %s for '%s@%s'; refused",
					       c->shown, *digest, repo, want),
				"the registry or a proxy sent other content than asked for");
		ret = MOO_ENET;
		goto done;
	}
	ret = 0;
done:
	if (ret) {
		free(*digest);
		*digest = NULL;
	}
	free(url);
	return ret;
}

static bool is_index(const char *t)
{
	return t && (!strcmp(t, "application/vnd.oci.image.index.v1+json") ||
		     !strcmp(t, "application/vnd.docker.distribution.manifest.list.v2+json"));
}

static bool is_manifest(const char *t)
{
	return t && (!strcmp(t, "application/vnd.oci.image.manifest.v1+json") ||
		     !strcmp(t, "application/vnd.docker.distribution.manifest.v2+json"));
}

static char *platform_str(json_t *p)
{
	const char *os = json_string_value(json_object_get(p, "os"));
	const char *arch = json_string_value(json_object_get(p, "architecture"));
	const char *var = json_string_value(json_object_get(p, "variant"));

	if (!os || !arch) {
		return NULL;
	}
	return moo__printf("%s/%s%s%s", os, arch, var ? "/" : "", var ? var : "");
}

/* Does have ("linux/arm64/v8") serve want ("linux/arm64")? 2: exactly, 1: by its variant. */
static int platform_fits(const char *have, const char *want)
{
	size_t lw = strlen(want);

	if (!strcmp(have, want)) {
		return 2;
	}
	/* linux/arm64 asked, linux/arm64/v8 offered: a variant the host did not name. */
	return !strncmp(have, want, lw) && have[lw] == '/' && !strchr(want + 6, '/') ? 1 : 0;
}

void moo__pinned_dispose(struct moo__pinned *p)
{
	size_t i;

	free(p->digest);
	free(p->media_type);
	free(p->platform_digest);
	for (i = 0; i < p->n_platforms; i++) {
		free(p->platforms[i]);
	}
	free(p->platforms);
	memset(p, 0, sizeof(*p));
}

static int pin_index(struct client *c, const struct moo__imageref *ir, json_t *m,
		     const char *platform, struct moo__pinned *out, struct moo_error **err)
{
	json_t *list = json_object_get(m, "manifests"), *e;
	const char *pick = NULL;
	struct resp r = {0};
	char *got = NULL;
	int best = 0, ret;
	size_t i;

	if (!json_is_array(list)) {
		return moo__fail(err, MOO_ENET, "registry '%s' sent an index without 'manifests'",
				 c->shown);
	}
	json_array_foreach(list, i, e)
	{
		char *ps = platform_str(json_object_get(e, "platform"));
		const char *d = json_string_value(json_object_get(e, "digest"));
		int fit;

		if (!ps || !d || !digest_ok(d) || !strncmp(ps, "unknown/", 8)) {
			free(ps); /* attestations and other non-images */
			continue;
		}
		fit = platform_fits(ps, platform);
		if (fit > best) {
			best = fit;
			pick = d;
		}
		MOO_GROW(out->platforms, out->n_platforms);
		out->platforms[out->n_platforms++] = ps;
	}
	if (!pick) {
		struct moo_buf have = MOO_BUF_INIT;

		for (i = 0; i < out->n_platforms; i++) {
			moo_buf_printf(&have, "%s%s", i ? ", " : "", out->platforms[i]);
		}
		moo__error_hint(moo__error_add(err, MOO_ERESOLVE, MOO_SEV_ERROR,
					       "image '%s' has no manifest for %s", ir->repository,
					       platform),
				"it has %s; run on a host of one of those",
				have.len ? have.ptr : "none");
		moo_buf_dispose(&have);
		return MOO_ERESOLVE;
	}
	/* Fetch the platform's manifest too: it must exist and hash to its digest. */
	ret = fetch(c, ir->repository, "manifests", pick, pick, &r, &got, err);
	if (!ret) {
		out->platform_digest = got;
		got = NULL;
	}
	free(got);
	resp_dispose(&r);
	return ret;
}

static int pin_manifest(struct client *c, const struct moo__imageref *ir, json_t *m,
			const char *platform, struct moo__pinned *out, struct moo_error **err)
{
	const char *cfg =
		json_string_value(json_object_get(json_object_get(m, "config"), "digest"));
	struct resp r = {0};
	char *got = NULL, *ps = NULL;
	json_t *j = NULL;
	int ret;

	if (!cfg || !digest_ok(cfg)) {
		return moo__fail(err, MOO_ENET, "registry '%s' sent a manifest without a config",
				 c->shown);
	}
	if ((ret = fetch(c, ir->repository, "blobs", cfg, cfg, &r, &got, err))) {
		goto done;
	}
	j = json_loadb(r.body.ptr ? r.body.ptr : "", r.body.len, 0, NULL);
	ps = platform_str(j);
	if (!ps) {
		ret = moo__fail(err, MOO_ENET, "the config of '%s' names no os and architecture",
				ir->repository);
		goto done;
	}
	MOO_GROW(out->platforms, out->n_platforms);
	out->platforms[out->n_platforms++] = moo__strdup(ps);
	if (!platform_fits(ps, platform)) {
		moo__error_hint(moo__error_add(err, MOO_ERESOLVE, MOO_SEV_ERROR,
					       "image '%s' is for %s, not %s", ir->repository, ps,
					       platform),
				"run on a %s host, or use an image built for %s", ps, platform);
		ret = MOO_ERESOLVE;
		goto done;
	}
	out->platform_digest = moo__strdup(out->digest);
	ret = 0;
done:
	json_decref(j);
	free(ps);
	free(got);
	resp_dispose(&r);
	return ret;
}

int moo__registry_pin(struct moo__pinned *out, const struct moo__registries *regs, const char *ref,
		      const char *platform, struct moo_error **err)
{
	struct moo__imageref ir = {0};
	struct moo__registry_conf conf;
	struct moo__pinned p = {0};
	struct client c = {0};
	struct resp r = {0};
	char *pull = NULL, *host = NULL;
	json_t *m = NULL;
	const char *mt;
	int ret;

	pull = moo__registry_pull_ref(regs, ref);
	if ((ret = moo__imageref_parse(&ir, pull, err)) || (ret = moo__curl_load(err))) {
		goto done;
	}
	moo__registry_conf(regs, ir.registry, &conf);
	host = moo__strndup(ir.registry, strcspn(ir.registry, ":"));
	if (ir.registry[0] == '[') { /* [::1]:5000 */
		free(host);
		host = moo__strndup(ir.registry, strcspn(ir.registry, "]") + 1);
	}
	c.shown = ir.registry;
	c.base = moo__printf("%s://%s", conf.insecure || is_loopback(host) ? "http" : "https",
			     !strcmp(ir.registry, "docker.io") ? "registry-1.docker.io"
							       : ir.registry);
	c.origin = origin_of(c.base);
	c.h = curl_easy_init();
	if (!c.origin || !c.h) {
		ret = moo__fail(err, MOO_EARG, "cannot make a URL of registry '%s'", ir.registry);
		goto done;
	}
	ret = fetch(&c, ir.repository, "manifests", ir.digest ? ir.digest : ir.tag, ir.digest, &r,
		    &p.digest, err);
	if (ret) {
		goto done;
	}
	m = json_loadb(r.body.ptr ? r.body.ptr : "", r.body.len, 0, NULL);
	if (!json_is_object(m)) {
		ret = moo__fail(err, MOO_ENET, "registry '%s' sent a manifest that is not JSON",
				c.shown);
		goto done;
	}
	mt = r.ctype;
	if (!is_index(mt) && !is_manifest(mt)) {
		mt = json_string_value(json_object_get(m, "mediaType"));
	}
	if (!is_index(mt) && !is_manifest(mt)) {
		/* An OCI manifest or index may leave mediaType out; tell them by their fields. */
		mt = json_object_get(m, "manifests") ? "application/vnd.oci.image.index.v1+json"
		     : json_object_get(m, "config")  ? "application/vnd.oci.image.manifest.v1+json"
						     : NULL;
	}
	if (!mt) {
		ret = moo__fail(err, MOO_ENET,
				"registry '%s' sent a manifest of an unknown type '%s'", c.shown,
				r.ctype ? r.ctype : "");
		goto done;
	}
	p.media_type = moo__strdup(mt);
	ret = is_index(mt) ? pin_index(&c, &ir, m, platform, &p, err)
			   : pin_manifest(&c, &ir, m, platform, &p, err);
	if (ret) {
		goto done;
	}
	*out = p;
	memset(&p, 0, sizeof(p));
done:
	json_decref(m);
	resp_dispose(&r);
	moo__pinned_dispose(&p);
	moo__imageref_dispose(&ir);
	if (c.h) {
		curl_easy_cleanup(c.h);
	}
	free(c.base);
	free(c.origin);
	free(c.token);
	free(pull);
	free(host);
	return ret;
}
