/*
 * gitlib.h: libgit2, loaded the first time it is needed. Internal.
 *
 * libgit2 brings libssh2, mbed TLS, http-parser, PCRE2 and Kerberos: ~10 libraries
 * mapped at every start of moo, yet only moo publish (and what reads published models)
 * uses it.
 * So libmoo does not link it: the file that uses it includes this header instead of the
 * library's own, and calls moo__gitlib_load() first; the names below then go through
 * the table it fills (util/gitlib.c), as archivelib.h does for libarchive.
 */
#ifndef MOO_GITLIB_H
#define MOO_GITLIB_H
#include <git2.h>
#include "internal.h"

/* clang-format off */
#define MOO__GITLIB_FUNCS(X) \
	X(git_attr_get_ext) \
	X(git_attr_value) \
	X(git_branch_is_checked_out) \
	X(git_blob_create_from_buffer) \
	X(git_blob_create_from_disk) \
	X(git_blob_free) \
	X(git_blob_lookup) \
	X(git_blob_rawcontent) \
	X(git_blob_rawsize) \
	X(git_buf_dispose) \
	X(git_commit_create) \
	X(git_commit_free) \
	X(git_commit_lookup) \
	X(git_commit_message) \
	X(git_commit_tree) \
	X(git_config_free) \
	X(git_config_get_string_buf) \
	X(git_config_open_ondisk) \
	X(git_credential_ssh_key_from_agent) \
	X(git_credential_ssh_key_new) \
	X(git_credential_userpass_plaintext_new) \
	X(git_error_last) \
	X(git_fetch_options_init) \
	X(git_index_add) \
	X(git_index_free) \
	X(git_index_new) \
	X(git_index_read_tree) \
	X(git_index_remove_directory) \
	X(git_index_write_tree_to) \
	X(git_libgit2_init) \
	X(git_libgit2_shutdown) \
	X(git_object_free) \
	X(git_object_id) \
	X(git_object_lookup) \
	X(git_object_peel) \
	X(git_object_type) \
	X(git_oid_cmp) \
	X(git_oid_cpy) \
	X(git_oid_is_zero) \
	X(git_oid_tostr) \
	X(git_push_options_init) \
	X(git_reference_create) \
	X(git_reference_create_matching) \
	X(git_reference_delete) \
	X(git_reference_free) \
	X(git_reference_lookup) \
	X(git_reference_name_is_valid) \
	X(git_reference_symbolic_target) \
	X(git_remote_connect) \
	X(git_remote_create_anonymous) \
	X(git_remote_disconnect) \
	X(git_remote_fetch) \
	X(git_remote_free) \
	X(git_remote_init_callbacks) \
	X(git_remote_ls) \
	X(git_remote_push) \
	X(git_repository_free) \
	X(git_repository_init) \
	X(git_repository_is_bare) \
	X(git_repository_open) \
	X(git_repository_open_bare) \
	X(git_repository_config) \
	X(git_revparse_single) \
	X(git_signature_default) \
	X(git_signature_free) \
	X(git_tag_create) \
	X(git_tag_message) \
	X(git_tree_entry_byindex) \
	X(git_tree_entry_bypath) \
	X(git_tree_entry_free) \
	X(git_tree_entry_id) \
	X(git_tree_entry_name) \
	X(git_tree_entry_type) \
	X(git_tree_entrycount) \
	X(git_tree_free) \
	X(git_tree_lookup)
/* clang-format on */

struct moo__gitlib {
#define MOO__GITLIB_FIELD(f) __typeof__(f) *f;
	MOO__GITLIB_FUNCS(MOO__GITLIB_FIELD)
#undef MOO__GITLIB_FIELD
};
extern struct moo__gitlib moo__gitlib;

/* Loads libgit2 once (thread-safe). MOO_EIO, naming the library, when it cannot. */
int moo__gitlib_load(struct moo_error **err);

#ifndef MOO__GITLIB_NO_NAMES
/* clang-format off */
#define git_attr_get_ext                      moo__gitlib.git_attr_get_ext
#define git_attr_value                        moo__gitlib.git_attr_value
#define git_branch_is_checked_out             moo__gitlib.git_branch_is_checked_out
#define git_blob_create_from_buffer           moo__gitlib.git_blob_create_from_buffer
#define git_blob_create_from_disk             moo__gitlib.git_blob_create_from_disk
#define git_blob_free                         moo__gitlib.git_blob_free
#define git_blob_lookup                       moo__gitlib.git_blob_lookup
#define git_blob_rawcontent                   moo__gitlib.git_blob_rawcontent
#define git_blob_rawsize                      moo__gitlib.git_blob_rawsize
#define git_buf_dispose                       moo__gitlib.git_buf_dispose
#define git_commit_create                     moo__gitlib.git_commit_create
#define git_commit_free                       moo__gitlib.git_commit_free
#define git_commit_lookup                     moo__gitlib.git_commit_lookup
#define git_commit_message                    moo__gitlib.git_commit_message
#define git_commit_tree                       moo__gitlib.git_commit_tree
#define git_config_free                       moo__gitlib.git_config_free
#define git_config_get_string_buf             moo__gitlib.git_config_get_string_buf
#define git_config_open_ondisk                moo__gitlib.git_config_open_ondisk
#define git_credential_ssh_key_from_agent     moo__gitlib.git_credential_ssh_key_from_agent
#define git_credential_ssh_key_new            moo__gitlib.git_credential_ssh_key_new
#define git_credential_userpass_plaintext_new moo__gitlib.git_credential_userpass_plaintext_new
#define git_error_last                        moo__gitlib.git_error_last
#define git_fetch_options_init                moo__gitlib.git_fetch_options_init
#define git_index_add                         moo__gitlib.git_index_add
#define git_index_free                        moo__gitlib.git_index_free
#define git_index_new                         moo__gitlib.git_index_new
#define git_index_read_tree                   moo__gitlib.git_index_read_tree
#define git_index_remove_directory            moo__gitlib.git_index_remove_directory
#define git_index_write_tree_to               moo__gitlib.git_index_write_tree_to
#define git_libgit2_init                      moo__gitlib.git_libgit2_init
#define git_libgit2_shutdown                  moo__gitlib.git_libgit2_shutdown
#define git_object_free                       moo__gitlib.git_object_free
#define git_object_id                         moo__gitlib.git_object_id
#define git_object_lookup                     moo__gitlib.git_object_lookup
#define git_object_peel                       moo__gitlib.git_object_peel
#define git_object_type                       moo__gitlib.git_object_type
#define git_oid_cmp                           moo__gitlib.git_oid_cmp
#define git_oid_cpy                           moo__gitlib.git_oid_cpy
#define git_oid_is_zero                       moo__gitlib.git_oid_is_zero
#define git_oid_tostr                         moo__gitlib.git_oid_tostr
#define git_push_options_init                 moo__gitlib.git_push_options_init
#define git_reference_create                  moo__gitlib.git_reference_create
#define git_reference_create_matching         moo__gitlib.git_reference_create_matching
#define git_reference_delete                  moo__gitlib.git_reference_delete
#define git_reference_free                    moo__gitlib.git_reference_free
#define git_reference_lookup                  moo__gitlib.git_reference_lookup
#define git_reference_name_is_valid           moo__gitlib.git_reference_name_is_valid
#define git_reference_symbolic_target         moo__gitlib.git_reference_symbolic_target
#define git_remote_connect                    moo__gitlib.git_remote_connect
#define git_remote_create_anonymous           moo__gitlib.git_remote_create_anonymous
#define git_remote_disconnect                 moo__gitlib.git_remote_disconnect
#define git_remote_fetch                      moo__gitlib.git_remote_fetch
#define git_remote_free                       moo__gitlib.git_remote_free
#define git_remote_init_callbacks             moo__gitlib.git_remote_init_callbacks
#define git_remote_ls                         moo__gitlib.git_remote_ls
#define git_remote_push                       moo__gitlib.git_remote_push
#define git_repository_free                   moo__gitlib.git_repository_free
#define git_repository_init                   moo__gitlib.git_repository_init
#define git_repository_is_bare                moo__gitlib.git_repository_is_bare
#define git_repository_open                   moo__gitlib.git_repository_open
#define git_repository_open_bare              moo__gitlib.git_repository_open_bare
#define git_repository_config                 moo__gitlib.git_repository_config
#define git_revparse_single                   moo__gitlib.git_revparse_single
#define git_signature_default                 moo__gitlib.git_signature_default
#define git_signature_free                    moo__gitlib.git_signature_free
#define git_tag_create                        moo__gitlib.git_tag_create
#define git_tag_message                       moo__gitlib.git_tag_message
#define git_tree_entry_byindex                moo__gitlib.git_tree_entry_byindex
#define git_tree_entry_bypath                 moo__gitlib.git_tree_entry_bypath
#define git_tree_entry_free                   moo__gitlib.git_tree_entry_free
#define git_tree_entry_id                     moo__gitlib.git_tree_entry_id
#define git_tree_entry_name                   moo__gitlib.git_tree_entry_name
#define git_tree_entry_type                   moo__gitlib.git_tree_entry_type
#define git_tree_entrycount                   moo__gitlib.git_tree_entrycount
#define git_tree_free                         moo__gitlib.git_tree_free
#define git_tree_lookup                       moo__gitlib.git_tree_lookup
/* clang-format on */
#endif
#endif
