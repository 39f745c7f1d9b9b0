/*
 * webhook/certs: the webhook's CA and serving certificates with OpenSSL — generation,
 * inspection, the rotation decision and CA bundles.
 *
 * Keys are ECDSA P-256: small, fast to make, and accepted by every Kubernetes version.
 * Serving certificates name their hosts in subjectAltName only; the subject CN is a label
 * for humans ("s2i-operator webhook"), not a host name, so a client that still matched CNs
 * (so#175, Go < 1.15) would fail loudly here rather than work by accident. Extensions are
 * the ones OpenSSL's X509_STRICT and Go's verifier expect: basicConstraints critical on the
 * CA, key identifiers on both, serverAuth on the leaf.
 */
#include <arpa/inet.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "webhook/webhook_internal.h"

/* Certificates start this long before now, for API servers whose clock is behind; short
 * validities (tests) backdate a tenth of themselves at most. */
#define BACKDATE_SECONDS 300.0

void cert_material_clear(cert_material_t *m)
{
    if (!m)
        return;
    free(m->cert_pem);
    if (m->key_pem) {
        explicit_bzero(m->key_pem, strlen(m->key_pem));
        free(m->key_pem);
    }
    free(m->ca_pem);
    if (m->ca_key_pem) {
        explicit_bzero(m->ca_key_pem, strlen(m->ca_key_pem));
        free(m->ca_key_pem);
    }
    memset(m, 0, sizeof(*m));
}

int cert_material_copy(cert_material_t *dst, const cert_material_t *src)
{
    cert_material_clear(dst);
    dst->cert_pem = util_strdup(src->cert_pem);
    dst->key_pem = util_strdup(src->key_pem);
    dst->ca_pem = util_strdup(src->ca_pem);
    dst->ca_key_pem = util_strdup(src->ca_key_pem);
    if ((src->cert_pem && !dst->cert_pem) || (src->key_pem && !dst->key_pem) ||
        (src->ca_pem && !dst->ca_pem) || (src->ca_key_pem && !dst->ca_key_pem)) {
        cert_material_clear(dst);
        return -1;
    }
    return 0;
}

/* ---- small OpenSSL helpers -------------------------------------------------------------- */

/* *err = what + OpenSSL's last error; the queue is emptied. Returns -1. */
static int fail(char **err, const char *what)
{
    char detail[256] = "";
    unsigned long e = ERR_peek_last_error();
    if (e)
        ERR_error_string_n(e, detail, sizeof(detail));
    ERR_clear_error();
    if (err)
        *err = util_asprintf("%s%s%s", what, detail[0] ? ": " : "", detail);
    return -1;
}

static X509 *read_cert(const char *pem)
{
    if (!pem)
        return NULL;
    BIO *bio = BIO_new_mem_buf(pem, -1);
    X509 *x = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    ERR_clear_error();
    return x;
}

static EVP_PKEY *read_key(const char *pem)
{
    if (!pem)
        return NULL;
    BIO *bio = BIO_new_mem_buf(pem, -1);
    EVP_PKEY *k = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    ERR_clear_error();
    return k;
}

/* Every certificate of a PEM text (stops at the first thing that is not one). */
static STACK_OF(X509) * read_certs(const char *pem)
{
    STACK_OF(X509) *certs = sk_X509_new_null();
    if (!certs || !pem)
        return certs;
    BIO *bio = BIO_new_mem_buf(pem, -1);
    if (!bio) {
        sk_X509_free(certs);
        return NULL;
    }
    X509 *x;
    while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
        if (!sk_X509_push(certs, x)) {
            X509_free(x);
            break;
        }
    }
    ERR_clear_error();
    BIO_free(bio);
    return certs;
}

static char *cert_to_pem(X509 *x)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *out = NULL;
    if (bio && PEM_write_bio_X509(bio, x) == 1) {
        char *data;
        long len = BIO_get_mem_data(bio, &data);
        out = len > 0 ? strndup(data, (size_t)len) : NULL;
    }
    BIO_free(bio);
    return out;
}

static char *key_to_pem(EVP_PKEY *key)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *out = NULL;
    if (bio && PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL) == 1) {
        char *data;
        long len = BIO_get_mem_data(bio, &data);
        if (len > 0)
            out = strndup(data, (size_t)len);
        explicit_bzero(data, (size_t)len);
    }
    BIO_free(bio);
    return out;
}

static time_t asn1_to_time(const ASN1_TIME *t)
{
    struct tm tm;
    if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
        return 0;
    return timegm(&tm);
}

static void times_of(X509 *x, cert_times_t *out)
{
    out->not_before = asn1_to_time(X509_get0_notBefore(x));
    out->not_after = asn1_to_time(X509_get0_notAfter(x));
}

static bool is_ca_cert(X509 *x)
{
    return X509_check_ca(x) >= 1;
}

/* ---- generation ------------------------------------------------------------------------- */

static int add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (!ext)
        return -1;
    int ok = X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    return ok == 1 ? 0 : -1;
}

static int set_random_serial(X509 *x)
{
    BIGNUM *bn = BN_new();
    int rc = -1;
    /* 127 random bits: positive, and far from colliding. */
    if (bn && BN_rand(bn, 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) == 1 &&
        BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)))
        rc = 0;
    BN_free(bn);
    return rc;
}

static int set_subject_cn(X509 *x, const char *common_name)
{
    X509_NAME *name = X509_get_subject_name(x);
    return X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)common_name,
                                      -1, -1, 0) == 1
               ? 0
               : -1;
}

static int set_validity(X509 *x, time_t now, double validity, time_t cap)
{
    double backdate = validity / 10 < BACKDATE_SECONDS ? validity / 10 : BACKDATE_SECONDS;
    time_t start = now - (time_t)backdate;
    time_t end = now + (time_t)validity;
    if (cap && end > cap)
        end = cap;
    if (end <= start)
        return -1;
    return ASN1_TIME_set(X509_getm_notBefore(x), start) && ASN1_TIME_set(X509_getm_notAfter(x), end)
               ? 0
               : -1;
}

/* The names as GENERAL_NAMES: IP addresses as iPAddress, the rest as dNSName. */
static int add_san(X509 *x, const char *const *names)
{
    GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
    if (!gens)
        return -1;
    int rc = -1;
    for (size_t i = 0; names && names[i]; i++) {
        GENERAL_NAME *gen = GENERAL_NAME_new();
        if (!gen)
            goto out;
        ASN1_OCTET_STRING *ip = a2i_IPADDRESS(names[i]);
        ERR_clear_error();
        if (ip) {
            GENERAL_NAME_set0_value(gen, GEN_IPADD, ip);
        } else {
            ASN1_IA5STRING *dns = ASN1_IA5STRING_new();
            if (!dns || ASN1_STRING_set(dns, names[i], -1) != 1) {
                ASN1_IA5STRING_free(dns);
                GENERAL_NAME_free(gen);
                goto out;
            }
            GENERAL_NAME_set0_value(gen, GEN_DNS, dns);
        }
        if (!sk_GENERAL_NAME_push(gens, gen)) {
            GENERAL_NAME_free(gen);
            goto out;
        }
    }
    if (sk_GENERAL_NAME_num(gens) > 0 &&
        X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT) == 1)
        rc = 0;
out:
    GENERAL_NAMES_free(gens);
    return rc;
}

int cert_generate_ca(const char *common_name, double validity, time_t now, char **cert_pem,
                     char **key_pem, char **err)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    int rc = -1;
    if (!key || !x) {
        fail(err, "generating the CA key");
        goto out;
    }
    if (X509_set_version(x, 2) != 1 || set_random_serial(x) < 0 ||
        set_validity(x, now, validity, 0) < 0 || X509_set_pubkey(x, key) != 1 ||
        set_subject_cn(x, common_name) < 0 ||
        X509_set_issuer_name(x, X509_get_subject_name(x)) != 1 ||
        add_ext(x, x, NID_basic_constraints, "critical,CA:TRUE") < 0 ||
        add_ext(x, x, NID_key_usage, "critical,digitalSignature,keyCertSign,cRLSign") < 0 ||
        add_ext(x, x, NID_subject_key_identifier, "hash") < 0 ||
        add_ext(x, x, NID_authority_key_identifier, "keyid:always") < 0 ||
        X509_sign(x, key, EVP_sha256()) <= 0) {
        fail(err, "making the CA certificate");
        goto out;
    }
    *cert_pem = cert_to_pem(x);
    *key_pem = key_to_pem(key);
    if (!*cert_pem || !*key_pem) {
        free(*cert_pem);
        free(*key_pem);
        *cert_pem = *key_pem = NULL;
        fail(err, "encoding the CA");
        goto out;
    }
    rc = 0;
out:
    X509_free(x);
    EVP_PKEY_free(key);
    return rc;
}

int cert_generate_serving(const char *ca_cert_pem, const char *ca_key_pem, const char *common_name,
                          const char *const *names, double validity, time_t now, char **cert_pem,
                          char **key_pem, char **err)
{
    X509 *ca = read_cert(ca_cert_pem);
    EVP_PKEY *ca_key = read_key(ca_key_pem);
    EVP_PKEY *key = NULL;
    X509 *x = NULL;
    int rc = -1;
    if (!ca || !ca_key || X509_check_private_key(ca, ca_key) != 1) {
        fail(err, "the CA certificate or key does not load");
        goto out;
    }
    key = EVP_EC_gen("P-256");
    x = X509_new();
    if (!key || !x) {
        fail(err, "generating the serving key");
        goto out;
    }
    if (X509_set_version(x, 2) != 1 || set_random_serial(x) < 0 ||
        set_validity(x, now, validity, asn1_to_time(X509_get0_notAfter(ca))) < 0 ||
        X509_set_pubkey(x, key) != 1 || set_subject_cn(x, common_name) < 0 ||
        X509_set_issuer_name(x, X509_get_subject_name(ca)) != 1 ||
        add_ext(x, ca, NID_basic_constraints, "critical,CA:FALSE") < 0 ||
        add_ext(x, ca, NID_key_usage, "critical,digitalSignature") < 0 ||
        add_ext(x, ca, NID_ext_key_usage, "serverAuth") < 0 ||
        add_ext(x, ca, NID_subject_key_identifier, "hash") < 0 ||
        add_ext(x, ca, NID_authority_key_identifier, "keyid:always") < 0 || add_san(x, names) < 0 ||
        X509_sign(x, ca_key, EVP_sha256()) <= 0) {
        fail(err, "making the serving certificate");
        goto out;
    }
    *cert_pem = cert_to_pem(x);
    *key_pem = key_to_pem(key);
    if (!*cert_pem || !*key_pem) {
        free(*cert_pem);
        free(*key_pem);
        *cert_pem = *key_pem = NULL;
        fail(err, "encoding the serving certificate");
        goto out;
    }
    rc = 0;
out:
    X509_free(x);
    EVP_PKEY_free(key);
    X509_free(ca);
    EVP_PKEY_free(ca_key);
    return rc;
}

/* ---- inspection ------------------------------------------------------------------------- */

int cert_read_times(const char *pem, cert_times_t *out)
{
    X509 *x = read_cert(pem);
    if (!x)
        return -1;
    times_of(x, out);
    X509_free(x);
    return 0;
}

bool cert_rotation_due(const cert_times_t *t, time_t now)
{
    if (now < t->not_before || now >= t->not_after)
        return true;
    /* 2/3 of the way, computed without overflow for any time_t */
    double lifetime = difftime(t->not_after, t->not_before);
    return difftime(now, t->not_before) >= lifetime * 2.0 / 3.0;
}

static char *sprint_names_missing(X509 *x, const char *const *names)
{
    for (size_t i = 0; names && names[i]; i++) {
        int ok;
        ASN1_OCTET_STRING *ip = a2i_IPADDRESS(names[i]);
        ERR_clear_error();
        if (ip) {
            ok = X509_check_ip(x, ASN1_STRING_get0_data(ip), (size_t)ASN1_STRING_length(ip), 0);
            ASN1_OCTET_STRING_free(ip);
        } else {
            ok = X509_check_host(x, names[i], 0, X509_CHECK_FLAG_NEVER_CHECK_SUBJECT, NULL);
        }
        if (ok != 1)
            return util_asprintf("the certificate is not valid for %s", names[i]);
    }
    return NULL;
}

int cert_verify_serving(const char *cert_pem, const char *key_pem, const char *bundle_pem,
                        const char *const *names, time_t now, char **why)
{
    X509 *leaf = read_cert(cert_pem);
    EVP_PKEY *key = read_key(key_pem);
    STACK_OF(X509) *chain = NULL;
    STACK_OF(X509) *roots = NULL;
    X509_STORE *store = NULL;
    X509_STORE_CTX *ctx = NULL;
    char *reason = NULL;
    if (!leaf) {
        reason = strdup("the serving certificate does not parse");
        goto out;
    }
    if (!key || X509_check_private_key(leaf, key) != 1) {
        reason = strdup("the serving key does not match the certificate");
        goto out;
    }
    reason = sprint_names_missing(leaf, names);
    if (reason)
        goto out;
    if (bundle_pem) {
        chain = read_certs(cert_pem); /* intermediates, if the file holds a chain */
        roots = read_certs(bundle_pem);
        store = X509_STORE_new();
        ctx = X509_STORE_CTX_new();
        if (!chain || !roots || !store || !ctx) {
            reason = strdup("out of memory");
            goto out;
        }
        for (int i = 0; i < sk_X509_num(roots); i++)
            X509_STORE_add_cert(store, sk_X509_value(roots, i));
        ERR_clear_error();
        if (X509_STORE_CTX_init(ctx, store, leaf, chain) != 1) {
            reason = strdup("out of memory");
            goto out;
        }
        X509_VERIFY_PARAM *param = X509_STORE_CTX_get0_param(ctx);
        X509_VERIFY_PARAM_set_time(param, now);
        X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_X509_STRICT);
        X509_VERIFY_PARAM_set_purpose(param, X509_PURPOSE_SSL_SERVER);
        if (X509_verify_cert(ctx) != 1)
            reason = util_asprintf("the certificate does not verify against the CA bundle: %s",
                                   X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
    } else {
        cert_times_t t;
        times_of(leaf, &t);
        if (now < t.not_before || now >= t.not_after)
            reason = strdup("the certificate is not valid now");
    }
out:
    ERR_clear_error();
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    sk_X509_pop_free(roots, X509_free);
    sk_X509_pop_free(chain, X509_free);
    EVP_PKEY_free(key);
    X509_free(leaf);
    if (!reason)
        return 0;
    if (why)
        *why = reason;
    else
        free(reason);
    return -1;
}

static cert_action_t decided(cert_action_t action, char **why, char *reason)
{
    if (why)
        *why = reason;
    else
        free(reason);
    return action;
}

cert_action_t cert_assess(const cert_material_t *m, const char *const *names, time_t now,
                          char **why)
{
    if (why)
        *why = NULL;
    X509 *ca = read_cert(m->ca_pem);
    EVP_PKEY *ca_key = read_key(m->ca_key_pem);
    bool ca_ok = ca && ca_key && is_ca_cert(ca) && X509_check_private_key(ca, ca_key) == 1;
    ERR_clear_error();
    cert_times_t ca_times = {0, 0};
    if (ca)
        times_of(ca, &ca_times);
    X509_free(ca);
    EVP_PKEY_free(ca_key);
    if (!ca_ok)
        return decided(CERT_REGENERATE, why, strdup("no usable CA certificate and key"));
    if (now >= ca_times.not_after || now < ca_times.not_before)
        return decided(CERT_REGENERATE, why, strdup("the CA is not valid now"));
    if (cert_rotation_due(&ca_times, now))
        return decided(CERT_RENEW_CA, why, strdup("the CA is past 2/3 of its validity"));
    /* The serving certificate must chain to the current CA alone, not to an older one
     * still in the bundle. */
    char *first = cert_bundle_merge(m->ca_pem, NULL, 0, now, 1);
    char *reason = NULL;
    int verified =
        first ? cert_verify_serving(m->cert_pem, m->key_pem, first, names, now, &reason) : -1;
    free(first);
    if (verified < 0)
        return decided(CERT_RENEW_SERVING, why, reason ? reason : strdup("out of memory"));
    cert_times_t t;
    if (cert_read_times(m->cert_pem, &t) < 0 || cert_rotation_due(&t, now))
        return decided(CERT_RENEW_SERVING, why,
                       strdup("the serving certificate is past 2/3 of its validity"));
    return CERT_KEEP;
}

/* ---- bundles ---------------------------------------------------------------------------- */

static bool contains_cert(STACK_OF(X509) * certs, X509 *x)
{
    for (int i = 0; i < sk_X509_num(certs); i++)
        if (X509_cmp(sk_X509_value(certs, i), x) == 0)
            return true;
    return false;
}

static int append_pem(buf_t *out, STACK_OF(X509) * certs)
{
    for (int i = 0; i < sk_X509_num(certs); i++) {
        char *pem = cert_to_pem(sk_X509_value(certs, i));
        if (!pem)
            return -1;
        buf_puts(out, pem);
        free(pem);
    }
    return out->oom ? -1 : 0;
}

char *cert_bundle_merge(const char *first_pem, const char *const *others, size_t n, time_t now,
                        size_t max)
{
    X509 *first = read_cert(first_pem);
    STACK_OF(X509) *bundle = sk_X509_new_null();
    char *out = NULL;
    if (!first || !bundle || !sk_X509_push(bundle, first)) {
        X509_free(first);
        sk_X509_free(bundle);
        return NULL;
    }
    for (size_t i = 0; i < n && (size_t)sk_X509_num(bundle) < max; i++) {
        STACK_OF(X509) *more = read_certs(others[i]);
        for (int j = 0; more && j < sk_X509_num(more) && (size_t)sk_X509_num(bundle) < max; j++) {
            X509 *x = sk_X509_value(more, j);
            cert_times_t t;
            times_of(x, &t);
            if (!is_ca_cert(x) || now >= t.not_after || contains_cert(bundle, x))
                continue;
            X509_up_ref(x);
            if (!sk_X509_push(bundle, x))
                X509_free(x);
        }
        sk_X509_pop_free(more, X509_free);
    }
    ERR_clear_error();
    buf_t b = BUF_INIT;
    if (append_pem(&b, bundle) == 0)
        out = buf_steal(&b);
    buf_free(&b);
    sk_X509_pop_free(bundle, X509_free);
    return out;
}

bool cert_same_first(const char *a_pem, const char *b_pem)
{
    X509 *a = read_cert(a_pem);
    X509 *b = read_cert(b_pem);
    bool same = a && b && X509_cmp(a, b) == 0;
    X509_free(a);
    X509_free(b);
    return same;
}

size_t cert_count(const char *pem)
{
    STACK_OF(X509) *certs = read_certs(pem);
    size_t n = certs ? (size_t)sk_X509_num(certs) : 0;
    sk_X509_pop_free(certs, X509_free);
    return n;
}
