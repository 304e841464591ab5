#!/bin/bash
# Asserts that every tensor-core kernel (the extern "C" kernels of kernels/
# named *_tf32_kernel or *_bf16_kernel) was compiled to HMMA instructions for
# each architecture of 8.0 and newer in the fatbin, and to the __trap()
# fallback (BPT.TRAP, no HMMA) for the older ones; prints per kernel and
# architecture the HMMA count, the shared loads (LDS, and LDSM = ldmatrix),
# the asynchronous copies (LDGSTS = cp.async), and ptxas's registers,
# shared memory and spills (from bench/ptxas-report.txt).
#
# Also asserted on sm_80 and newer: the kernels whose A operand is staged
# m-major (gemm.cu, "Staging for the tensor cores": GEMM with A not
# transposed, convolution forward and filter gradient, also with BF16 x;
# LDSM_KERNELS below)
# read it with ldmatrix (LDSM > 0), and every GEMM/convolution tensor-core
# kernel issues cp.async (LDGSTS > 0). Below sm_80 neither may appear.
#
# usage: scripts/sass_check.sh FATBIN "ARCHS" [PTXAS_REPORT]   e.g. "70 75 80 86 89 90"
# `make sass-check` runs it (part of `make test` where nvcc exists).
set -euo pipefail
fatbin=$1
archs=$2
report=${3:-bench/ptxas-report.txt}
CUOBJDUMP=${CUOBJDUMP:-cuobjdump}

kernels=$(cat kernels/*.cu | perl -0777 -ne 's{//[^\n]*}{}g; s{/\*.*?\*/}{}gs;
	while (/extern\s+"C"\s+__global__\s+void\s+(?:__launch_bounds__\s*\((?:[^()]|\([^()]*\))*\)\s*)?(\w+_(?:tf32|bf16)_kernel)\s*\(/g) { print "$1\n" }' | sort -u)
if [ -z "$kernels" ]; then
	echo "sass_check: no *_tf32_kernel / *_bf16_kernel in kernels/*.cu" >&2
	exit 1
fi
list=$(echo "$kernels" | paste -sd, -)
LDSM_KERNELS='^(matmul_n[nt]_forward|conv2d_forward|conv2d_filter_backward)_(xbf16_)?(tf32|bf16)_kernel$'
LDGSTS_KERNELS='^(matmul|conv2d)_.*_(tf32|bf16)_kernel$'
if ! echo "$kernels" | grep -Eq "$LDSM_KERNELS"; then
	echo "sass_check: no kernel matches LDSM_KERNELS ($LDSM_KERNELS)" >&2
	exit 1
fi
fail=0
printf '%-38s %-6s %5s %5s %5s %6s %5s %6s %s\n' kernel arch HMMA LDS LDSM LDGSTS trap regs "smem/spill (ptxas)"
for a in $archs; do
	# One pass over the dump: per function, its HMMA, LDS, LDSM, LDGSTS and BPT.TRAP counts.
	counts=$($CUOBJDUMP -sass -arch "sm_$a" -fun "$list" "$fatbin" | awk '
		/Function :/ { f = $3; seen[f] = 1; next }
		f != "" && /HMMA/ { h[f]++ }
		f != "" && /[ \t]LDS[ .]/ { l[f]++ }
		f != "" && /[ \t]LDSM[ .]/ { m[f]++ }
		f != "" && /[ \t]LDGSTS[ .]/ { g[f]++ }
		f != "" && /BPT\.TRAP/ { t[f]++ }
		END { for (f in seen) print f, h[f] + 0, l[f] + 0, m[f] + 0, g[f] + 0, t[f] + 0 }') || { echo "sass_check: cuobjdump of sm_$a failed" >&2; exit 1; }
	for k in $kernels; do
		line=$(echo "$counts" | awk -v k="$k" '$1 == k')
		if [ -z "$line" ]; then
			echo "FAIL: $k has no sm_$a SASS in $fatbin" >&2
			fail=1
			continue
		fi
		read -r _ hmma lds ldsm ldgsts trap <<< "$line"
		info=$(grep -A3 "entry function '$k' for 'sm_$a'" "$report" 2>/dev/null || true)
		regs=$(echo "$info" | sed -n 's/.*Used \([0-9]*\) registers.*/\1/p')
		smem=$(echo "$info" | sed -n 's/.*registers, \([0-9]*\) bytes smem.*/\1/p')
		spill=$(echo "$info" | sed -n 's/.*, \([0-9]*\) bytes spill stores.*/\1/p')
		printf '%-38s sm_%-3s %5s %5s %5s %6s %5s %6s %s\n' "$k" "$a" "$hmma" "$lds" "$ldsm" "$ldgsts" "$trap" "${regs:-?}" "${smem:-?} B / ${spill:-?} B"
		if [ "$a" -ge 80 ] && [ "$hmma" -eq 0 ]; then
			echo "FAIL: $k for sm_$a has no HMMA" >&2
			fail=1
		fi
		if [ "$a" -ge 80 ] && echo "$k" | grep -Eq "$LDSM_KERNELS" && [ "$ldsm" -eq 0 ]; then
			echo "FAIL: $k for sm_$a stages A m-major but has no LDSM (ldmatrix)" >&2
			fail=1
		fi
		if [ "$a" -ge 80 ] && echo "$k" | grep -Eq "$LDGSTS_KERNELS" && [ "$ldgsts" -eq 0 ]; then
			echo "FAIL: $k for sm_$a has no LDGSTS (cp.async)" >&2
			fail=1
		fi
		if [ "$a" -lt 80 ] && { [ "$hmma" -ne 0 ] || [ "$ldsm" -ne 0 ] || [ "$ldgsts" -ne 0 ] || [ "$trap" -eq 0 ]; }; then
			echo "FAIL: $k for sm_$a should be the __trap() fallback (HMMA $hmma, LDSM $ldsm, LDGSTS $ldgsts, BPT.TRAP $trap)" >&2
			fail=1
		fi
	done
done
n=$(echo "$kernels" | wc -l)
if [ $fail -ne 0 ]; then
	echo "sass_check: FAILED" >&2
	exit 1
fi
nl=$(echo "$kernels" | grep -Ec "$LDSM_KERNELS")
echo "sass_check: all $n tensor-core kernels use HMMA on every sm_80+ target of \"$archs\" and trap below; the $nl with m-major A use LDSM, the GEMM/convolution ones LDGSTS"
