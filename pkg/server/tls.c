/*
 * server/tls: certificate chain and private key, from PEM files or PEM text, checked
 * and installed into an OpenSSL SSL_CTX.
 *
 * Material is always read into memory first, so a reload checks exactly what it will
 * install, and loading into a vhost's SSL_CTX (inside an lws callback) cannot fail on
 * I/O. lws 4.1 would load in-memory certificates as a single DER certificate and drop
 * the chain; doing it here keeps intermediates.
 */
#include "server_internal.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <stdlib.h>
#include <string.h>

void tls_pair_clear(tls_pair_t *p)
{
    if (!p)
        return;
    free(p->cert_pem);
    if (p->key_pem) {
        /* The key should not linger in freed memory. */
        explicit_bzero(p->key_pem, strlen(p->key_pem));
        free(p->key_pem);
    }
    p->cert_pem = NULL;
    p->key_pem = NULL;
}

/* The last OpenSSL error as text, and the queue emptied. */
static void openssl_reason(char *out, size_t len)
{
    unsigned long e = ERR_peek_last_error();
    if (e)
        ERR_error_string_n(e, out, len);
    else
        snprintf(out, len, "no detail");
    ERR_clear_error();
}

int tls_pair_apply(const tls_pair_t *p, void *ssl_ctx)
{
    SSL_CTX *ctx = ssl_ctx;
    int rc = -1;
    X509 *leaf = NULL;
    EVP_PKEY *key = NULL;
    BIO *certs = BIO_new_mem_buf(p->cert_pem, -1);
    BIO *keys = BIO_new_mem_buf(p->key_pem, -1);
    if (!certs || !keys)
        goto out;
    leaf = PEM_read_bio_X509_AUX(certs, NULL, NULL, NULL);
    if (!leaf || SSL_CTX_use_certificate(ctx, leaf) != 1)
        goto out;
    if (SSL_CTX_clear_chain_certs(ctx) != 1)
        goto out;
    for (;;) {
        X509 *extra = PEM_read_bio_X509(certs, NULL, NULL, NULL);
        if (!extra)
            break;
        if (SSL_CTX_add0_chain_cert(ctx, extra) != 1) {
            X509_free(extra);
            goto out;
        }
    }
    /* The loop ends on "no start line": that is the end of the chain, not an error. */
    ERR_clear_error();
    key = PEM_read_bio_PrivateKey(keys, NULL, NULL, NULL);
    if (!key || SSL_CTX_use_PrivateKey(ctx, key) != 1 || SSL_CTX_check_private_key(ctx) != 1)
        goto out;
    rc = 0;
out:
    X509_free(leaf);
    EVP_PKEY_free(key);
    BIO_free(certs);
    BIO_free(keys);
    return rc;
}

static char *read_pem_file(const char *path, const char *listener, const char *what)
{
    char *text = util_read_file(path, NULL);
    if (!text)
        log_error("cannot read TLS file", "listener", listener, "file", what, "path", path, "error",
                  strerror(errno), NULL);
    return text;
}

int tls_pair_load(const server_tls_t *tls, const char *listener, tls_pair_t *out)
{
    bool files = tls && (tls->cert_file || tls->key_file);
    if (!tls || (files && (!tls->cert_file || !tls->key_file)) ||
        (!files && (!tls->cert_pem || !tls->key_pem))) {
        log_error("TLS needs a certificate and a key (both files or both PEM text)", "listener",
                  listener, NULL);
        return -1;
    }
    char *cert, *key = NULL;
    if (files) {
        cert = read_pem_file(tls->cert_file, listener, "certificate");
        if (cert)
            key = read_pem_file(tls->key_file, listener, "key");
    } else {
        cert = strdup(tls->cert_pem);
        if (cert)
            key = strdup(tls->key_pem);
        if (!cert || !key)
            log_error("out of memory copying TLS material", "listener", listener, NULL);
    }
    if (!key) {
        free(cert);
        return -1;
    }
    tls_pair_t pair = {cert, key};

    /* Trial run in a throwaway context: a bad pair must fail here, before lws sees
     * it, so the listener keeps serving with what it has. */
    SSL_CTX *trial = SSL_CTX_new(TLS_server_method());
    int rc = trial ? tls_pair_apply(&pair, trial) : -1;
    if (rc < 0) {
        char reason[256];
        openssl_reason(reason, sizeof(reason));
        log_error("TLS certificate or key does not load", "listener", listener, "reason", reason,
                  NULL);
        tls_pair_clear(&pair);
    } else {
        *out = pair;
    }
    SSL_CTX_free(trial);
    return rc;
}
