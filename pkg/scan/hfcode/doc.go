// Package hfcode finds the Python code that a model folder's configuration
// tells its loader to import: Hugging Face transformers "auto_map" entries
// (config.json, tokenizer_config.json, preprocessor_config.json,
// processor_config.json, feature_extractor_config.json), "custom_pipelines",
// diffusers model_index.json components and pipeline classes that name
// modules of the folder, and sentence-transformers modules.json entries whose
// type is not one of sentence-transformers' own classes.
//
// The loaders import that code when the model is loaded with remote code
// enabled (trust_remote_code, which vLLM, TGI and KServe's Hugging Face
// runtime expose). Each reference is a high finding that names the config
// key and the file; a reference whose file is not in the folder is reported
// too, since the loader then fetches it from the hub at load time, where no
// scan saw it. What the code itself does is judged where the .py file is
// scanned.
//
// Files are recognised by content, never by name: any JSON object goes
// through Config (which then hands it to package keras for Keras configs
// and chat templates), and a JSON array of module entries through Modules.
// Sibling files are looked up (package coderef, which package keras shares)
// in the directory that holds the config on disk
// (scan.Session.Dir); inside archives and OCI layers the reference is judged
// by its text alone.
package hfcode
