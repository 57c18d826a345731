/* interchange.h - a model's weights as safetensors under PyTorch's state_dict() names.
 *
 * The file holds every tensor of the architecture's table (dann_model_tensors), in that order,
 * which is the reference model's state_dict() order: parameters and BatchNorm running statistics
 * as F32 with PyTorch's shapes, and each BatchNorm's num_batches_tracked as a 0-dimensional I64
 * tensor, as torch stores it. So `model.load_state_dict(st.load(path)[0])` in
 * tools/dann_torch.py reads an exported file and a state_dict saved by tools/st.py imports here.
 * Metadata written: format "pt", dann_arch (the preset, or "custom"), dann_net (the network
 * description), producer, plus caller extras.
 *
 * Import is strict, like load_state_dict(strict=True) plus dtype checks: every expected tensor
 * must be present with the exact dtype and shape, no other tensor may be present, F32 values
 * must be finite and counters non-negative; dann_arch and dann_net metadata entries, when
 * present, must name the model's architecture and network. The model is changed only when the whole file is valid. */
#ifndef DANN_INTERCHANGE_H
#define DANN_INTERCHANGE_H

#include "dann.h"
#include "io/safetensors.h"

/* Writes m's tensors to path atomically (see st_write). extra_meta holds n_extra key/value
 * pairs (extra_meta[2k], extra_meta[2k+1]) added after the standard entries; may be NULL. */
dann_status interchange_export(const dann_model *m, const char *path,
                               const char *const *extra_meta, int n_extra, dann_error *err);

/* Checks the parsed file f (named `path` in messages) against m's tensor table and, when it
 * matches, copies its parameters, running statistics and counters into m. */
dann_status interchange_load(dann_model *m, const st_file *f, const char *path, dann_error *err);

/* st_read + interchange_load. */
dann_status interchange_import(dann_model *m, const char *path, dann_error *err);

#endif
