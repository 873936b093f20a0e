# Builds (once per build tree) the test image the container tests run: a Debian 12 minbase
# root with Debian's python3-sklearn and python3-pip, as a tar of the root file system.
# There is no Docker Hub here: debootstrap fetches from Debian's mirror (~2-3 min), and
# the tar is kept in $MOO_BUILD/test-cache for every later test and run.
#   . tests/lib/image.sh; image_rootfs   → prints the tar's path, or fails
image_rootfs() {
	cache=${MOO_IMAGE_CACHE:-${MOO_BUILD:?}/test-cache}
	mkdir -p "$cache" || return 1
	tarball=$cache/moo-sklearn-rootfs.tar
	(
		flock 9
		if [ ! -s "$tarball" ]; then
			mirror=$(sed -n 's/^URIs: *//p; s/^deb  *\(\[[^]]*\] *\)\{0,1\}\(http[^ ]*\) .*/\2/p' \
				/etc/apt/sources.list /etc/apt/sources.list.d/* 2>/dev/null |
				grep -v security | head -n 1)
			root=$cache/rootfs.$$
			rm -rf "$root"
			debootstrap --variant=minbase --include=python3-sklearn,python3-pip \
				bookworm "$root" "${mirror:-http://deb.debian.org/debian}" \
				>"$cache/debootstrap.log" 2>&1 || { rm -rf "$root"; exit 1; }
			# python3-sklearn pulls in pythran's compilers and boost headers (~400 MB)
			# that running a model never needs: dropped to keep the image small.
			rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* \
				"$root"/usr/include "$root"/usr/lib/gcc "$root"/usr/share/locale \
				"$root"/usr/share/doc "$root"/usr/share/man "$root"/usr/bin/*-lto-dump-*
			tar -C "$root" -cf "$tarball.tmp" . && mv -f "$tarball.tmp" "$tarball"
			rm -rf "$root"
		fi
	) 9>"$cache/lock" || return 1
	[ -s "$tarball" ] && printf '%s\n' "$tarball"
}
