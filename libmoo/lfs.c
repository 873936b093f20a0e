/*
 * lfs: Git LFS pointers and objects for moo publish (see lfs.h).
 *
 * The batch API (https://github.com/git-lfs/git-lfs/blob/main/docs/api/batch.md): one POST
 * of {operation, transfers: ["basic"], objects: [{oid, size}]} to API/objects/batch; the
 * answer lists per object the actions still needed (none: the server has it), an upload
 * (PUT the bytes to href with its headers) and maybe a verify (POST {oid, size}).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <jansson.h>
#include "curl.h"
#include "lfs.h"

#define LFS_JSON        "application/vnd.git-lfs+json"
#define MAX_BATCH_REPLY (16u << 20)

void moo__lfs_pointer(struct moo_buf *out, const char *oid, uint64_t size)
{
	moo_buf_printf(out,
		       "version https://git-lfs.github.com/spec/v1\noid sha256:%s\nsize %llu\n",
		       oid, (unsigned long long)size);
}

bool moo__lfs_pointer_parse(const void *data, size_t len, char oid[MOO__SHA256_HEX], uint64_t *size)
{
	static const char v1[] = "version https://git-lfs.github.com/spec/v1\noid sha256:";
	const char *s = data, *p;
	char *end;

	if (len > 200 || len < sizeof(v1) - 1 + 64 + 7 || memcmp(s, v1, sizeof(v1) - 1)) {
		return false;
	}
	p = s + sizeof(v1) - 1;
	memcpy(oid, p, 64);
	oid[64] = 0;
	if (!moo__is_sha256_hex(oid) || strncmp(p + 64, "\nsize ", 6)) {
		return false;
	}
	p += 70;
	if (*p < '0' || *p > '9' || memchr(s, 0, len)) {
		return false;
	}
	*size = strtoull(p, &end, 10);
	return *end == '\n';
}

/* ---- HTTP ---------------------------------------------------------------------------- */

struct reply {
	struct moo_buf body;
	bool too_big;
	FILE *to; /* a download: the bytes go here */
	struct moo__sha256 *h;
	uint64_t got, want; /* a download stops past the size its pointer names */
};

static size_t on_body(char *p, size_t sz, size_t n, void *data)
{
	struct reply *r = data;

	if (r->to) {
		if (sz * n > r->want - r->got) {
			r->too_big = true;
			return 0;
		}
		r->got += sz * n;
		moo__sha256_update(r->h, p, sz * n);
		return fwrite(p, sz, n, r->to) == n ? sz * n : 0;
	}
	if (r->body.len + sz * n > MAX_BATCH_REPLY) {
		r->too_big = true;
		return 0;
	}
	moo_buf_add(&r->body, p, sz * n);
	return sz * n;
}

/* scheme://host[:port] of url, without any user; NULL when it is no http(s) URL. */
char *moo__lfs_origin(const char *url)
{
	const char *p = strstr(url, "://"), *end, *at;

	if (!p || (strncmp(url, "http://", 7) && strncmp(url, "https://", 8))) {
		return NULL;
	}
	p += 3;
	end = p + strcspn(p, "/?#");
	at = memchr(p, '@', (size_t)(end - p));
	if (at) {
		p = at + 1;
	}
	return moo__printf("%.*s%.*s", (int)(strstr(url, "://") + 3 - url), url, (int)(end - p), p);
}

/*
 * One request: method to url with headers (a JSON object of name: value, or NULL), body
 * (NULL: none), upload (a file to PUT, or NULL). user/pass go along unless the headers carry
 * an Authorization. *status gets the HTTP status; a transfer failure is MOO_EHOST.
 */
static int request(CURL *h, const char *method, const char *url, json_t *headers, const char *body,
		   FILE *upload, uint64_t upload_size, const char *user, const char *pass,
		   struct reply *r, long *status, struct moo_error **err)
{
	struct curl_slist *hl = NULL;
	char errbuf[CURL_ERROR_SIZE] = "";
	bool own_auth = false;
	const char *k;
	json_t *v;
	CURLcode cc;

	json_object_foreach(headers, k, v)
	{
		char *line;

		if (!json_is_string(v) || strpbrk(k, "\r\n:") ||
		    strpbrk(json_string_value(v), "\r\n")) {
			continue;
		}
		own_auth |= !strcasecmp(k, "Authorization");
		line = moo__printf("%s: %s", k, json_string_value(v));
		hl = curl_slist_append(hl, line);
		free(line);
	}
	if (body) {
		hl = curl_slist_append(hl, "Accept: " LFS_JSON);
		hl = curl_slist_append(hl, "Content-Type: " LFS_JSON);
	}
	if (upload) {
		hl = curl_slist_append(hl, "Content-Type: application/octet-stream");
	}
	hl = curl_slist_append(hl, "Expect:");
	curl_easy_reset(h);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "moo");
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, MOO__HTTP_LOW_SPEED_BPS);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, MOO__HTTP_LOW_SPEED_S);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
	if (user && pass && !own_auth) {
		curl_easy_setopt(h, CURLOPT_USERNAME, user);
		curl_easy_setopt(h, CURLOPT_PASSWORD, pass);
		curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
	}
	if (upload) {
		curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(h, CURLOPT_READDATA, upload);
		curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)upload_size);
	} else if (body) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	}
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	cc = curl_easy_perform(h);
	curl_slist_free_all(hl);
	if (cc != CURLE_OK && !r->too_big) {
		char *o = moo__lfs_origin(url);
		struct moo_error *e =
			moo__error_add(err, MOO_EHOST, MOO_SEV_ERROR,
				       "cannot reach the LFS server '%s'", o ? o : url);

		moo__error_cause(e, errbuf[0] ? errbuf : curl_easy_strerror(cc));
		free(o);
		return MOO_EHOST;
	}
	if (r->too_big) {
		return r->to ? moo__fail(err, MOO_ENET,
					 "the LFS server sent more bytes than the pointer names")
			     : moo__fail(err, MOO_ENET, "the LFS server sent more than %u bytes",
					 MAX_BATCH_REPLY);
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
	return 0;
}

/* The "message" of an LFS error reply, else the first line of the body. */
static char *reply_message(const struct reply *r)
{
	json_t *j = r->body.len ? json_loadb(r->body.ptr, r->body.len, 0, NULL) : NULL;
	json_t *m = json_object_get(j, "message");
	char *s;

	if (json_is_string(m)) {
		s = moo__strdup(json_string_value(m));
	} else if (r->body.len && !j) {
		s = moo__strndup(r->body.ptr, strcspn(r->body.ptr, "\r\n"));
	} else {
		s = moo__strdup("");
	}
	json_decref(j);
	if (strlen(s) > 200) {
		s[200] = 0;
	}
	return s;
}

/* POST API/objects/batch; *out the reply's object list, keyed by oid. */
static int batch(CURL *h, const char *api, const char *op, const char *ref, const char *user,
		 const char *pass, const struct moo__lfs_object *v, size_t n, json_t **out,
		 bool *unauthorized, struct moo_error **err)
{
	struct reply rp = {MOO_BUF_INIT, false, NULL, NULL, 0, 0};
	json_t *req = json_pack("{sss[s]ss}", "operation", op, "transfers", "basic", "hash_algo",
				"sha256");
	json_t *objs = json_array(), *reply = NULL, *byoid = json_object(), *o;
	char *url = moo__printf("%s%sobjects/batch", api,
				api[0] && api[strlen(api) - 1] == '/' ? "" : "/");
	char *body = NULL, *msg = NULL;
	long status = 0;
	size_t i;
	int r;

	for (i = 0; i < n; i++) {
		json_array_append_new(
			objs, json_pack("{sssI}", "oid", v[i].oid, "size", (json_int_t)v[i].size));
	}
	json_object_set_new(req, "objects", objs);
	if (ref) {
		json_object_set_new(req, "ref", json_pack("{ss}", "name", ref));
	}
	body = json_dumps(req, JSON_COMPACT);
	if ((r = request(h, "POST", url, NULL, body, NULL, 0, user, pass, &rp, &status, err))) {
		goto done;
	}
	if (status == 401) {
		*unauthorized = true;
		r = moo__fail(err, MOO_EHOST, "authentication to the LFS server '%s' failed", api);
		goto done;
	}
	if (status != 200) {
		struct moo_error *e;

		msg = reply_message(&rp);
		e = moo__error_add(err, MOO_ENET, MOO_SEV_ERROR,
				   "the LFS server '%s' refused the %s batch (HTTP %ld)%s%s", api,
				   op, status, *msg ? ": " : "", msg);
		moo__error_hint(e, "check the repository's LFS settings (lfs.url in its "
				   ".lfsconfig) and your permissions there");
		r = MOO_ENET;
		goto done;
	}
	reply = json_loadb(rp.body.ptr ? rp.body.ptr : "", rp.body.len, 0, NULL);
	if (!json_is_array(json_object_get(reply, "objects")) ||
	    (json_is_string(json_object_get(reply, "transfer")) &&
	     strcmp(json_string_value(json_object_get(reply, "transfer")), "basic"))) {
		r = moo__fail(err, MOO_ENET,
			      "the LFS server '%s' sent an invalid batch reply (no objects, or a "
			      "transfer other than basic)",
			      api);
		goto done;
	}
	json_array_foreach(json_object_get(reply, "objects"), i, o)
	{
		const char *oid = json_string_value(json_object_get(o, "oid"));

		if (oid) {
			json_object_set(byoid, oid, o);
		}
	}
	*out = byoid;
	byoid = NULL;
	r = 0;
done:
	moo_buf_dispose(&rp.body);
	json_decref(req);
	json_decref(reply);
	json_decref(byoid);
	free(url);
	free(body);
	free(msg);
	return r;
}

/* The reply's per-object error, or the lack of the action it needs: MOO_ENET naming it. */
static int object_error(json_t *o, const char *api, const char *name, struct moo_error **err)
{
	json_t *e = json_object_get(o, "error");
	const char *m = json_string_value(json_object_get(e, "message"));
	struct moo_error *me;

	if (!o) {
		me = moo__error_add(err, MOO_ENET, MOO_SEV_ERROR,
				    "the LFS server '%s' did not answer for '%s'", api, name);
	} else {
		me = moo__error_add(err, MOO_ENET, MOO_SEV_ERROR,
				    "the LFS server '%s' refused '%s' (%lld)%s%s", api, name,
				    (long long)json_integer_value(json_object_get(e, "code")),
				    m ? ": " : "", m ? m : "");
	}
	moo__error_hint(me, "nothing was pushed; check the LFS server's limits and your "
			    "permissions there, then publish again");
	return MOO_ENET;
}

/* An action's href, when it is http(s). */
static const char *action_href(json_t *a)
{
	const char *href = json_string_value(json_object_get(a, "href"));

	return href && (!strncmp(href, "https://", 8) || !strncmp(href, "http://", 7)) ? href
										       : NULL;
}

/* An LFS URL moo cannot talk to: what it is, and where it comes from. */
static int lfs_url_error(const char *api, struct moo_error **err)
{
	int r = moo__fail(err, MOO_EARG, "LFS URL '%s' is not http(s)", api);

	moo__error_hint(*err, "set lfs.url (git config, or the repository's .lfsconfig) to the "
			      "LFS server's https URL");
	return r;
}

int moo__lfs_upload(const char *api, const char *ref, const char *user, const char *pass,
		    const struct moo__lfs_object *v, size_t n, size_t *sent, bool *unauthorized,
		    struct moo_error **err)
{
	CURL *h = NULL;
	json_t *objs = NULL;
	char *api_origin = moo__lfs_origin(api);
	size_t i;
	int r;

	*sent = 0;
	*unauthorized = false;
	if (!n) {
		free(api_origin);
		return 0;
	}
	if (!api_origin) {
		return lfs_url_error(api, err);
	}
	if ((r = moo__curl_load(err))) {
		goto done;
	}
	if (!(h = curl_easy_init())) {
		r = moo__fail(err, MOO_EIO, "cannot start libcurl");
		goto done;
	}
	if ((r = batch(h, api, "upload", ref, user, pass, v, n, &objs, unauthorized, err))) {
		goto done;
	}
	for (i = 0; i < n; i++) {
		json_t *o = json_object_get(objs, v[i].oid), *acts = json_object_get(o, "actions");
		json_t *up = json_object_get(acts, "upload"),
		       *ver = json_object_get(acts, "verify");
		struct reply rp = {MOO_BUF_INIT, false, NULL, NULL, 0, 0};
		const char *href = action_href(up);
		char *ho = NULL;
		FILE *in = NULL;
		long status = 0;

		if (!o || json_object_get(o, "error")) {
			r = object_error(o, api, v[i].name, err);
			goto done;
		}
		if (!up) {
			continue; /* the server has it */
		}
		if (!href) {
			r = moo__fail(err, MOO_ENET,
				      "the LFS server '%s' gave no http(s) href for '%s'", api,
				      v[i].name);
			goto done;
		}
		in = v[i].src ? fopen(v[i].src, "rb") : fmemopen((void *)v[i].data, v[i].len, "rb");
		if (!in) {
			r = moo__fail_errno(err, MOO_EIO, "cannot read '%s'", v[i].name);
			goto done;
		}
		ho = moo__lfs_origin(href);
		r = request(h, "PUT", href, json_object_get(up, "header"), NULL, in, v[i].size,
			    ho && !strcmp(ho, api_origin) ? user : NULL, pass, &rp, &status, err);
		fclose(in);
		if (!r && (status < 200 || status > 299)) {
			char *m = reply_message(&rp);
			struct moo_error *e = moo__error_add(
				err, MOO_ENET, MOO_SEV_ERROR,
				"the LFS server refused the upload of '%s' (HTTP %ld)%s%s",
				v[i].name, status, *m ? ": " : "", m);

			moo__error_hint(e, "nothing was pushed; check your write permission for "
					   "the repository's LFS storage and its size limits");
			free(m);
			r = MOO_ENET;
		}
		moo_buf_dispose(&rp.body);
		if (!r) {
			++*sent;
		}
		if (!r && ver) {
			char *body = moo__printf("{\"oid\":\"%s\",\"size\":%llu}", v[i].oid,
						 (unsigned long long)v[i].size);
			const char *vh = action_href(ver);
			char *vo = vh ? moo__lfs_origin(vh) : NULL;

			rp.body.len = 0;
			r = vh ? request(h, "POST", vh, json_object_get(ver, "header"), body, NULL,
					 0, vo && !strcmp(vo, api_origin) ? user : NULL, pass, &rp,
					 &status, err)
			       : moo__fail(err, MOO_ENET, "the LFS server '%s' gave no verify href",
					   api);
			if (!r && (status < 200 || status > 299)) {
				r = moo__fail(err, MOO_ENET,
					      "the LFS server did not verify '%s' (HTTP %ld)",
					      v[i].name, status);
			}
			moo_buf_dispose(&rp.body);
			free(body);
			free(vo);
		}
		free(ho);
		if (r) {
			goto done;
		}
	}
	r = 0;
done:
	if (h) {
		curl_easy_cleanup(h);
	}
	json_decref(objs);
	free(api_origin);
	return r;
}

int moo__lfs_download(const char *api, const char *user, const char *pass, const char *name,
		      const char *oid, uint64_t size, const char *dest, bool *unauthorized,
		      struct moo_error **err)
{
	struct moo__lfs_object one = {name, oid, size, NULL, NULL, 0};
	struct reply rp = {MOO_BUF_INIT, false, NULL, NULL, 0, 0};
	char *api_origin = moo__lfs_origin(api), *ho = NULL, *tmp = NULL;
	char hex[MOO__SHA256_HEX];
	CURL *h = NULL;
	json_t *objs = NULL, *o, *dl;
	const char *href;
	long status = 0;
	int r;

	*unauthorized = false;
	if (!api_origin) {
		return lfs_url_error(api, err);
	}
	if ((r = moo__curl_load(err))) {
		goto done;
	}
	if (!(h = curl_easy_init())) {
		r = moo__fail(err, MOO_EIO, "cannot start libcurl");
		goto done;
	}
	if ((r = batch(h, api, "download", NULL, user, pass, &one, 1, &objs, unauthorized, err))) {
		goto done;
	}
	o = json_object_get(objs, oid);
	dl = json_object_get(json_object_get(o, "actions"), "download");
	if (!o || json_object_get(o, "error") || !(href = action_href(dl))) {
		r = object_error(o, api, name, err);
		goto done;
	}
	tmp = moo__printf("%s.lfs-XXXXXX", dest);
	{
		int fd = mkstemp(tmp);

		rp.to = fd >= 0 ? fdopen(fd, "wb") : NULL;
		if (!rp.to) {
			if (fd >= 0) {
				close(fd);
			}
			r = moo__fail_errno(err, MOO_EIO, "cannot write '%s'", dest);
			goto done;
		}
	}
	rp.h = moo__sha256_new();
	rp.want = size;
	ho = moo__lfs_origin(href);
	r = request(h, "GET", href, json_object_get(dl, "header"), NULL, NULL, 0,
		    ho && !strcmp(ho, api_origin) ? user : NULL, pass, &rp, &status, err);
	if (fclose(rp.to) && !r) {
		r = moo__fail_errno(err, MOO_EIO, "cannot write '%s'", dest);
	}
	rp.to = NULL;
	moo__sha256_final(rp.h, hex);
	if (!r && status != 200) {
		r = moo__fail(err, MOO_ENET, "the LFS server did not send '%s' (HTTP %ld)", name,
			      status);
	} else if (!r && (rp.got != size || strcmp(hex, oid))) {
		r = moo__fail(err, MOO_ENET,
			      "the LFS server sent other bytes for '%s' than its pointer names",
			      name);
	}
	if (!r && rename(tmp, dest)) {
		r = moo__fail_errno(err, MOO_EIO, "cannot write '%s'", dest);
	}
done:
	if (tmp && r) {
		unlink(tmp);
	}
	if (h) {
		curl_easy_cleanup(h);
	}
	moo__sha256_free(rp.h);
	moo_buf_dispose(&rp.body);
	json_decref(objs);
	free(api_origin);
	free(ho);
	free(tmp);
	return r;
}

/* ---- a repository on this machine -------------------------------------------------------- */

char *moo__lfs_local_path(const char *gitdir, const char *oid)
{
	return moo__printf("%s/lfs/objects/%.2s/%.2s/%s", gitdir, oid, oid + 2, oid);
}

int moo__lfs_store_local(const char *gitdir, const struct moo__lfs_object *v, size_t n,
			 size_t *sent, struct moo_error **err)
{
	size_t i;
	int r = 0;

	*sent = 0;
	for (i = 0; !r && i < n; i++) {
		char *path = moo__lfs_local_path(gitdir, v[i].oid);
		char *dir = moo__strndup(path, strlen(path) - 65);
		char hex[MOO__SHA256_HEX];
		uint64_t size = 0;

		/* the object is its name: one that is there and hashes right stays */
		if (moo__sha256_file(path, hex, &size, NULL) || strcmp(hex, v[i].oid) ||
		    size != v[i].size) {
			if (!(r = moo__mkdir_p(dir, 0755, err))) {
				if (v[i].src) {
					r = moo__copy_tree(v[i].src, path, err);
				} else {
					r = moo__write_file_atomic(path, v[i].data, v[i].len, 0644,
								   false, err);
				}
			}
			if (!r) {
				++*sent;
			}
		}
		free(path);
		free(dir);
	}
	return r;
}
