/*
 * posd_plugin.h — the posd plugin ABI, version 1.4.
 *
 * This header is the source of truth of the boundary between the posd daemon (the host)
 * and its plugins: shared libraries written in C, Rust or anything that can export a C
 * function. The Rust crate posd-plugin-abi mirrors it, and a test compares the two.
 * Read plugins/abi/README.md for the life cycle, every hook's JSON schema with an example,
 * and the compatibility promise.
 *
 * THE SHAPE
 *   A plugin exports exactly one symbol, posd_plugin_entry, returning a pointer to a static
 *   posd_plugin_descriptor. The descriptor names the plugin, says which ABI it was built
 *   against, and holds two function tables: the life-cycle functions and the hooks. The
 *   host hands the plugin a posd_host_api table of callbacks (logging, clock, services).
 *   Every request and response is UTF-8 JSON (see the README for each schema).
 *
 * VERSIONS
 *   A host offering ABI M.N loads a plugin whose abi_major is M and whose min_abi_minor is
 *   at most N. A plugin built against an older minor loads on a newer host. A plugin built
 *   against a newer minor loads on an older host only if it declares the newer parts
 *   optional by setting min_abi_minor to the oldest minor it works with; otherwise the host
 *   refuses it and says which version it needs. Another major version is always refused.
 *   Structs only ever grow at their end within a major version, and each one starts with
 *   its struct_size: neither side reads past the size the other declared, and a field
 *   beyond it counts as absent (NULL / 0). struct_size must be at least the 1.0 size
 *   (POSD_*_SIZE_1_0).
 *   1.1 appended two hooks, list_admin_actions and invoke_admin_action (README: "Version
 *   history"); a 1.0 plugin's table is POSD_PLUGIN_HOOKS_SIZE_1_0 bytes and has neither.
 *   1.2 changes no struct: invoke_admin_action's response may carry "effects" (postings,
 *   kv writes, outbox messages, as prepare_checkout's), which a 1.2 host commits in one
 *   transaction, as one journal entry, before it answers. A 1.1 host ignores the key, so a
 *   plugin offers an action that needs it only when host_api->abi_minor is at least 2.
 *   1.3 changes no struct: return_lines' request tells the plugin what of its reductions
 *   stays with the goods the customer keeps ("reductions", "returned_before"), and the
 *   host keeps back from the refund what its response reprices ("repriced"). A 1.2 host
 *   ignores the key (host_api->abi_minor below 3).
 *   1.4 appended one hook, release_tender: a tender the plugin authorised (or added) is
 *   gone before any checkout took it — the cashier removed it, or the sale was cancelled.
 *   A 1.3 plugin's table is POSD_PLUGIN_HOOKS_SIZE_1_1 bytes and has no such slot, so it
 *   is never called; a 1.3 host never calls it either.
 *
 * MEMORY
 *   A buffer is freed by the side that allocated it. Request strings the host passes to a
 *   hook are the host's and valid only during the call. A response a hook writes into its
 *   posd_buffer is the plugin's: the host copies it and then calls the descriptor's
 *   free_buffer on it. A response the host writes into a posd_buffer (host_api->call) is
 *   the host's: the plugin calls host_api->free_buffer when done with it. Strings in the
 *   descriptor (id, name, …) are static and NUL-terminated.
 *
 * THREADS AND DEADLINES
 *   The host calls one plugin instance from one thread of its own, one call at a time;
 *   create, every hook and destroy run on that thread. A plugin needs no locking for its
 *   instance and must not keep using host_api from threads it starts itself. Each hook
 *   call has a deadline (configuration plugins.call_deadline_ms, default 2000 ms). Past it
 *   the host answers its own caller with org.posd.Error.PluginFailed and stops waiting; the
 *   late call is not interrupted, and its answer is thrown away. A plugin that misses its
 *   deadline three times in a row is marked failed and gets no further calls until it is
 *   reloaded. Hooks must therefore never block on the network for long: partner messages
 *   go through the host's outbox (deliver_message), not through a hook of a sale.
 *
 * ERRORS
 *   A hook returns POSD_OK with a JSON response, or POSD_ERROR with a JSON error object
 *   {"error": "<name>", "message": "<English text>"} where name is one of the contract's
 *   errors (NotFound, VoucherEmpty, InvalidConfiguration, LimitReached, CustomerRequired,
 *   CustomerLocked, InsufficientBalance, NotAllowed, Conflict, InvalidArgument), or
 *   PluginFailed for a failure of the plugin's own (the Rust SDK reports a caught panic so).
 *   Host services answer errors the same way, plus Internal for a failure of the host's
 *   own (its database). An unknown name counts as PluginFailed. Anything
 *   else — another status, invalid JSON, a NULL buffer with a length, a missed deadline —
 *   becomes org.posd.Error.PluginFailed for that one call, naming the plugin, and the sale
 *   goes on. A plugin must not let an exception or a Rust panic cross this boundary (the
 *   Rust SDK catches panics and turns them into POSD_ERROR).
 *
 * UNLOADING
 *   The host never unloads (dlclose) a plugin library: thread-local destructors of a Rust
 *   cdylib make that unsafe. Disabling, removing or reloading a plugin calls destroy on its
 *   instance and stops calling it; a reload loads the new file as a new library next to the
 *   retired one, which stays mapped until the daemon exits.
 */
#ifndef POSD_PLUGIN_H
#define POSD_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define POSD_ABI_MAJOR 1
#define POSD_ABI_MINOR 4

/* The one symbol a plugin exports. */
#define POSD_PLUGIN_ENTRY_SYMBOL "posd_plugin_entry"

/* Status of a hook or a host call. */
#define POSD_OK 0
#define POSD_ERROR 1

/* Log levels for host_api->log. */
#define POSD_LOG_ERROR 1
#define POSD_LOG_WARN 2
#define POSD_LOG_INFO 3
#define POSD_LOG_DEBUG 4
#define POSD_LOG_TRACE 5

/* UTF-8 JSON, not NUL-terminated. data is NULL exactly when len is 0 (no response). */
typedef struct posd_buffer {
    char *data;
    size_t len;
} posd_buffer;

/* The host's side of an instance; opaque to the plugin. */
typedef struct posd_host posd_host;

/*
 * Callbacks the host offers a plugin instance. Passed to create; valid until destroy
 * returns. Call them only from the thread that called the plugin.
 */
typedef struct posd_host_api {
    uint32_t struct_size;
    uint16_t abi_major;
    uint16_t abi_minor;
    posd_host *host;
    /* Writes a line to the daemon's log, tagged with the plugin id. */
    void (*log)(posd_host *host, int32_t level, const char *message, size_t message_len);
    /* Milliseconds since the Unix epoch, by the host's clock (tests can pin it). */
    int64_t (*now_ms)(posd_host *host);
    /*
     * A host service by name, e.g. "kv.get", "ledger.balance" (README: "Host services").
     * Writes a JSON response (POSD_OK) or error object (POSD_ERROR) into *response, which
     * the plugin frees with free_buffer.
     */
    int32_t (*call)(posd_host *host, const char *service, size_t service_len,
                    const char *request, size_t request_len, posd_buffer *response);
    /* Frees a buffer the host wrote. */
    void (*free_buffer)(posd_host *host, posd_buffer *buffer);
} posd_host_api;

#define POSD_HOST_API_SIZE_1_0 (sizeof(posd_host_api))

/*
 * A hook: takes a JSON request, writes a JSON response (POSD_OK) or error object
 * (POSD_ERROR) into *response, allocated by the plugin. A NULL hook means the plugin has
 * nothing to say there; the host skips it.
 */
typedef int32_t (*posd_hook)(void *instance, const char *request, size_t request_len,
                             posd_buffer *response);

/* The hooks of ABI 1.0 and, appended at the end, of 1.1 and 1.4. Later minors append
 * further. */
typedef struct posd_plugin_hooks {
    uint32_t struct_size;
    uint32_t reserved; /* 0 */
    posd_hook classify_code;     /* what a code is, without a sale (LookupCode, scanners) */
    posd_hook enter_code;        /* a code entered on a sale: lines, tenders, customer */
    posd_hook list_actions;      /* actions offered on a sale now */
    posd_hook invoke_action;     /* run one action */
    posd_hook evaluate_basket;   /* automatic discounts and previews, on every change */
    posd_hook list_rewards;      /* rewards the customer can take now */
    posd_hook apply_reward;      /* take one reward */
    posd_hook validate_tender;   /* check and authorise a tender of a method it declared */
    posd_hook prepare_checkout;  /* postings, outbox messages, receipt sections */
    posd_hook commit_checkout;   /* the checkout was committed */
    posd_hook abort_checkout;    /* the checkout was abandoned; forget the prepare */
    posd_hook void_receipt;      /* a whole receipt is voided */
    posd_hook return_lines;      /* lines of a receipt are returned */
    posd_hook deliver_message;   /* deliver one outbox message to a partner */
    posd_hook customer_accounts; /* a customer's accounts and balances */
    /* ABI 1.1: admin actions, offered to technicians outside a sale (posctl, admins only). */
    posd_hook list_admin_actions;  /* the admin actions the plugin offers, with their params */
    posd_hook invoke_admin_action; /* run one admin action with checked args */
    /*
     * ABI 1.4: a tender of the plugin's (one validate_tender authorised, or one its effects
     * added) is gone before any checkout took it: the cashier removed it ("removed") or the
     * sale was cancelled ("cancelled"). Called after that was committed, only for the
     * plugin the tender belongs to; a notification: the host does not wait for the answer
     * ({}), and an error is only logged. Release what the authorisation holds.
     */
    posd_hook release_tender;
} posd_plugin_hooks;

/* The 1.0 table ends before the 1.1 hooks: a table this size has no admin actions. */
#define POSD_PLUGIN_HOOKS_SIZE_1_0 (offsetof(posd_plugin_hooks, list_admin_actions))
/* The table of 1.1 to 1.3 (1.2 and 1.3 changed no struct): no release_tender. */
#define POSD_PLUGIN_HOOKS_SIZE_1_1 (offsetof(posd_plugin_hooks, release_tender))
#define POSD_PLUGIN_HOOKS_SIZE_1_4 (sizeof(posd_plugin_hooks))

/* What a plugin is. Returned by posd_plugin_entry; must stay valid while loaded. */
typedef struct posd_plugin_descriptor {
    uint32_t struct_size;
    uint16_t abi_major;     /* POSD_ABI_MAJOR the plugin was built against */
    uint16_t abi_minor;     /* POSD_ABI_MINOR the plugin was built against */
    uint16_t min_abi_minor; /* oldest host minor it works with (<= abi_minor) */
    uint16_t reserved0;     /* 0 */
    uint32_t reserved1;     /* 0 */
    const char *id;          /* stable id: lowercase letters, digits, '-', '_' */
    const char *name;        /* for people */
    const char *version;     /* the plugin's own version */
    const char *description; /* one line, may be NULL */
    /*
     * Makes an instance. config is the plugin's configuration section as a JSON object.
     * Returns NULL on failure, with an error object in *error (freed with free_buffer).
     */
    void *(*create)(const posd_host_api *host, const char *config, size_t config_len,
                    posd_buffer *error);
    /* Ends an instance; no call follows. */
    void (*destroy)(void *instance);
    /* Frees a buffer the plugin wrote (responses, create errors). */
    void (*free_buffer)(posd_buffer *buffer);
    const posd_plugin_hooks *hooks;
} posd_plugin_descriptor;

#define POSD_PLUGIN_DESCRIPTOR_SIZE_1_0 (sizeof(posd_plugin_descriptor))

/* The entry point every plugin exports. */
typedef const posd_plugin_descriptor *(*posd_plugin_entry_fn)(void);
const posd_plugin_descriptor *posd_plugin_entry(void);

#ifdef __cplusplus
}
#endif

#endif /* POSD_PLUGIN_H */
