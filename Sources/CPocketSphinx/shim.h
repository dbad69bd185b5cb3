#ifndef OVA_CPOCKETSPHINX_SHIM_H
#define OVA_CPOCKETSPHINX_SHIM_H
// The include directories (/usr/include/pocketsphinx, .../sphinxbase) come from pkg-config:
// pocketsphinx.h itself includes its siblings without a directory prefix.
#include <pocketsphinx.h>
#include <sphinxbase/err.h>
#include <sphinxbase/ckd_alloc.h>
#include <sphinxbase/logmath.h>

/// cmd_ln_init is variadic, which Swift cannot call: this fixed-arity wrapper builds the
/// decoder configuration. `lm` may be NULL (grammar-only decoders).
static inline cmd_ln_t *ova_ps_config(const char *hmm, const char *dict, const char *lm) {
    if (lm != NULL) {
        return cmd_ln_init(NULL, ps_args(), TRUE, "-hmm", hmm, "-dict", dict, "-lm", lm, NULL);
    }
    return cmd_ln_init(NULL, ps_args(), TRUE, "-hmm", hmm, "-dict", dict, NULL);
}

/// Whether `word` has a pronunciation in the decoder's dictionary. ps_lookup_word returns a
/// heap string the caller must release with sphinxbase's allocator, which Swift should not
/// have to know about.
static inline int ova_ps_has_word(ps_decoder_t *ps, const char *word) {
    char *phones = ps_lookup_word(ps, word);
    if (phones == NULL) {
        return 0;
    }
    ckd_free(phones);
    return 1;
}
#endif
