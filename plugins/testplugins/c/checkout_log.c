/*
 * checkout_log.c — test plugin for the checkout protocol. It keeps a log of the checkout
 * hooks it hears ("prepare", "commit", "abort", space-separated) and shows it as the
 * "state" of the code LOG-<X> (classify_code), so a test can see who was told what.
 * prepare_checkout refuses (NotAllowed) a sale with an item of sku FAIL-<X>, and for sku
 * OVERDRAW-<X> answers with a posting that takes an empty account below its floor of 0.
 * <X> is A here; checkout_log_b.c is the same plugin as id "checkout_log_b" with X = B.
 * Build: gcc -shared -fPIC -std=c11 -Wall -Werror -I../../abi/include checkout_log.c
 */
#include <stdlib.h>
#include <string.h>

#include "posd_plugin.h"

#ifndef LOG_ID
#define LOG_ID "checkout_log_a"
#define LOG_X "A"
#endif

static int32_t put(posd_buffer *buffer, const char *json, int32_t status) {
    size_t len = strlen(json);
    buffer->data = malloc(len);
    buffer->len = buffer->data != NULL ? len : 0;
    if (buffer->data == NULL)
        return POSD_ERROR;
    memcpy(buffer->data, json, len);
    return status;
}

static void free_buffer(posd_buffer *buffer) {
    if (buffer != NULL) {
        free(buffer->data);
        buffer->data = NULL;
        buffer->len = 0;
    }
}

typedef struct {
    char log[2048];
} journal;

static void *create(const posd_host_api *host, const char *config, size_t config_len,
                    posd_buffer *error) {
    (void)host;
    (void)config;
    (void)config_len;
    journal *j = calloc(1, sizeof *j);
    if (j == NULL && error != NULL)
        put(error, "{\"error\":\"InvalidArgument\",\"message\":\"out of memory\"}", POSD_ERROR);
    return j;
}

static void destroy(void *instance) {
    free(instance);
}

/* Whether `needle` occurs in the request (bounded: requests are not NUL-terminated). */
static int has(const char *request, size_t len, const char *needle) {
    size_t n = strlen(needle);
    for (size_t i = 0; request != NULL && i + n <= len; i++) {
        if (memcmp(request + i, needle, n) == 0)
            return 1;
    }
    return 0;
}

static void note(journal *j, const char *event) {
    size_t used = strlen(j->log);
    if (used + strlen(event) + 2 < sizeof j->log) {
        if (used > 0)
            strcat(j->log, " ");
        strcat(j->log, event);
    }
}

static int32_t classify_code(void *instance, const char *request, size_t len,
                             posd_buffer *response) {
    journal *j = instance;
    if (!has(request, len, "\"LOG-" LOG_X "\""))
        return put(response, "{\"claimed\":false}", POSD_OK);
    char json[sizeof j->log + 96];
    strcpy(json, "{\"claimed\":true,\"kind\":\"coupon\",\"state\":\"");
    strcat(json, j->log);
    strcat(json, "\"}");
    return put(response, json, POSD_OK);
}

static int32_t prepare_checkout(void *instance, const char *request, size_t len,
                                posd_buffer *response) {
    journal *j = instance;
    note(j, "prepare");
    if (has(request, len, "\"sku\":\"FAIL-" LOG_X "\""))
        return put(response,
                   "{\"error\":\"NotAllowed\",\"message\":\"" LOG_ID " refuses FAIL-" LOG_X
                   "\"}",
                   POSD_ERROR);
    if (has(request, len, "\"sku\":\"OVERDRAW-" LOG_X "\""))
        return put(response,
                   "{\"postings\":["
                   "{\"account\":\"hole\",\"amount\":\"-1.00\",\"unit\":\"EUR\","
                   "\"kind\":\"test\",\"floor\":\"0\"},"
                   "{\"account\":\"other\",\"amount\":\"1.00\",\"unit\":\"EUR\","
                   "\"kind\":\"test\"}]}",
                   POSD_OK);
    return put(response, "{}", POSD_OK);
}

static int32_t commit_checkout(void *instance, const char *request, size_t len,
                               posd_buffer *response) {
    (void)request;
    (void)len;
    note(instance, "commit");
    return put(response, "{}", POSD_OK);
}

static int32_t abort_checkout(void *instance, const char *request, size_t len,
                              posd_buffer *response) {
    (void)request;
    (void)len;
    note(instance, "abort");
    return put(response, "{}", POSD_OK);
}

static const posd_plugin_hooks hooks = {
    .struct_size = sizeof(posd_plugin_hooks),
    .classify_code = classify_code,
    .prepare_checkout = prepare_checkout,
    .commit_checkout = commit_checkout,
    .abort_checkout = abort_checkout,
};

static const posd_plugin_descriptor descriptor = {
    .struct_size = sizeof(posd_plugin_descriptor),
    .abi_major = POSD_ABI_MAJOR,
    .abi_minor = POSD_ABI_MINOR,
    .min_abi_minor = 0,
    .id = LOG_ID,
    .name = "Checkout log (test)",
    .version = "1.0.0",
    .description = "Test plugin: logs prepare, commit and abort; refuses or overdraws on cue",
    .create = create,
    .destroy = destroy,
    .free_buffer = free_buffer,
    .hooks = &hooks,
};

const posd_plugin_descriptor *posd_plugin_entry(void) {
    return &descriptor;
}
