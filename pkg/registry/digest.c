/*
 * registry/digest: sha256 in the "sha256:<hex>" form of the distribution API, on
 * OpenSSL's EVP interface (the SHA256_* functions are deprecated in OpenSSL 3).
 */
#include "registry/registry.h"

#include <openssl/evp.h>
#include <string.h>

int registry_sha256_init(registry_sha256_t *h)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(ctx);
        h->ctx = NULL;
        return -1;
    }
    h->ctx = ctx;
    return 0;
}

void registry_sha256_update(registry_sha256_t *h, const void *data, size_t len)
{
    if (h->ctx && len)
        EVP_DigestUpdate(h->ctx, data, len);
}

void registry_sha256_final(registry_sha256_t *h, char out[static REGISTRY_DIGEST_LEN])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (!h->ctx || EVP_DigestFinal_ex(h->ctx, md, &n) != 1 || n != 32) {
        out[0] = '\0';
        return;
    }
    memcpy(out, "sha256:", 7);
    for (unsigned int i = 0; i < n; i++) {
        out[7 + 2 * i] = hex[md[i] >> 4];
        out[8 + 2 * i] = hex[md[i] & 15];
    }
    out[7 + 2 * n] = '\0';
    EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL);
}

void registry_sha256_free(registry_sha256_t *h)
{
    EVP_MD_CTX_free(h->ctx);
    h->ctx = NULL;
}

int registry_digest_of(const void *data, size_t len, char out[static REGISTRY_DIGEST_LEN])
{
    registry_sha256_t h;
    if (registry_sha256_init(&h) < 0)
        return -1;
    registry_sha256_update(&h, data, len);
    registry_sha256_final(&h, out);
    registry_sha256_free(&h);
    return out[0] ? 0 : -1;
}
