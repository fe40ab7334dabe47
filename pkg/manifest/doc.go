// Package manifest turns a model directory into an OCI artifact and back.
//
// A model is stored as one OCI image manifest that follows the CNCF ModelPack
// layout: artifactType [ArtifactTypeModel], a config blob of media type
// [MediaTypeModelConfig], and one uncompressed layer per file, annotated with
// the file's relative path. Because layers are raw, a layer digest is the
// sha256 of the file on disk, so the OMS resource list of a model can be
// computed from a folder ([FolderResources]) or from a manifest
// ([LayerResources]) without downloading any blob.
//
// References are either oci://HOST/REPO[:TAG|@DIGEST] (a registry) or
// oci-layout://DIR[:TAG|@DIGEST] (a local OCI image layout, which needs no
// server); see [ParseRef] and [Open].
//
// Everything streams: [Push] hashes and uploads files without reading them into
// memory, and [Pull] verifies each blob's digest while it writes it, renaming a
// file into place only after its digest matched. Pull never writes outside its
// directory, whatever the manifest says: hostile paths are refused before
// anything is written.
package manifest
