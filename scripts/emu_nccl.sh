#!/usr/bin/env bash
# make emu-nccl: the multi-process NCCL wiring on the emulated CUDA backend
# with the stand-in libnccl (emu/nccl.cc), no GPU needed.
#  1. one process, two replicas on one emulated device (host all-reduce);
#  2. two torchrun-style processes of one replica each (MASTER_ADDR=127.0.0.1):
#     every rank must log the NCCL all-reduce across 2 processes, and the
#     final weights must match run 1 within relative 1e-5 per tensor
#     (scripts/compare_weights.py; two ranks of one replica are expected to be
#     bit-identical, see engine/dist/nccl_rank_cuda.go, and the script says how
#     many tensors are);
#  3. the same without libnccl: both ranks fall back to TCP, say why, and end
#     bit-identical to run 1 (the float64 rank-order sum);
#  4. the same two processes with rank 1 killed mid-run: rank 0 must exit
#     non-zero within 60 s naming the iteration (the stand-in's stderr line
#     names rank 1);
#  5. rank 1 SIGSTOPped mid-run: the NCCL watchdog (FSODGPU_NCCL_TIMEOUT=3s)
#     must fail rank 0 within 60 s;
#  (then the Makefile runs the single-process NCCL clique on two emulated devices
#     (FSODGPU_EMU_DEVICES=2): the cuda and engine/dist NCCL tests).
# usage: scripts/emu_nccl.sh BIN EMU_LIB_DIR OUT
set -euo pipefail
bin=$1 lib=$2 out=$3
plan=testdata/emu/nccl.yaml
export LD_LIBRARY_PATH=$lib FSODGPU_EMU_THREADS=${FSODGPU_EMU_THREADS:-1}
rm -rf "$out"
mkdir -p "$out"
port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

t0=$(date +%s)
"$bin" train --config $plan --backend cuda --replicas 2 --stage base --out "$out/single" --quiet 2> "$out/single.log" ||
	{ cat "$out/single.log"; exit 1; }
t1=$(date +%s)

p=$(port)
env MASTER_ADDR=127.0.0.1 MASTER_PORT=$p WORLD_SIZE=2 RANK=1 LOCAL_RANK=1 \
	"$bin" train --config $plan --backend cuda --replicas 1 --stage base --out "$out/multi" --quiet 2> "$out/rank1.log" &
r1=$!
env MASTER_ADDR=127.0.0.1 MASTER_PORT=$p WORLD_SIZE=2 RANK=0 LOCAL_RANK=0 \
	"$bin" train --config $plan --backend cuda --replicas 1 --stage base --out "$out/multi" --quiet 2> "$out/rank0.log" ||
	{ cat "$out/rank0.log"; kill $r1 2>/dev/null; exit 1; }
wait $r1 || { cat "$out/rank1.log"; exit 1; }
t2=$(date +%s)
for r in 0 1; do
	grep -q "rank $r of 2 processes, nccl all-reduce: NCCL .* across 2 processes" "$out/rank$r.log" ||
		{ echo "rank $r did not use the NCCL all-reduce:"; cat "$out/rank$r.log"; exit 1; }
done
grep -h "nccl all-reduce" "$out/rank0.log" | head -1
/usr/bin/python3 scripts/compare_weights.py "$out/single/base/model_final.safetensors" "$out/multi/base/model_final.safetensors" 1e-5

# Without libnccl (a library directory holding only the driver stand-in)
# every rank falls back to the TCP all-reduce and says why.
mkdir -p "$out/nonccl"
ln -sf "$lib/libcuda.so.1" "$out/nonccl/libcuda.so.1"
p=$(port)
env LD_LIBRARY_PATH="$out/nonccl" MASTER_ADDR=127.0.0.1 MASTER_PORT=$p WORLD_SIZE=2 RANK=1 LOCAL_RANK=1 \
	"$bin" train --config $plan --backend cuda --replicas 1 --stage base --out "$out/tcp" --quiet 2> "$out/tcp1.log" &
r1=$!
env LD_LIBRARY_PATH="$out/nonccl" MASTER_ADDR=127.0.0.1 MASTER_PORT=$p WORLD_SIZE=2 RANK=0 LOCAL_RANK=0 \
	"$bin" train --config $plan --backend cuda --replicas 1 --stage base --out "$out/tcp" --quiet 2> "$out/tcp0.log" ||
	{ cat "$out/tcp0.log"; kill $r1 2>/dev/null; exit 1; }
wait $r1 || { cat "$out/tcp1.log"; exit 1; }
for r in 0 1; do
	grep -q "rank $r of 2 processes, tcp all-reduce: TCP through rank 0.*no NCCL: rank 0: cuda: NCCL is not available" "$out/tcp$r.log" ||
		{ echo "rank $r did not fall back to TCP naming the missing libnccl:"; cat "$out/tcp$r.log"; exit 1; }
done
grep -o "tcp all-reduce: .*libnccl.so.2[^;]*" "$out/tcp0.log" | head -1
/usr/bin/python3 scripts/compare_weights.py "$out/single/base/model_final.safetensors" "$out/tcp/base/model_final.safetensors" 0
t2b=$(date +%s)

# A rank killed inside NCCL training: the other fails in bounded time.
p=$(port)
sed 's/  max_iter: 4$/  max_iter: 400/' $plan > "$out/long.yaml"
env MASTER_ADDR=127.0.0.1 MASTER_PORT=$p WORLD_SIZE=2 RANK=1 LOCAL_RANK=1 \
	"$bin" train --config "$out/long.yaml" --backend cuda --replicas 1 --stage base --out "$out/killed" 2> "$out/killed1.log" &
k1=$!
env MASTER_ADDR=127.0.0.1 MASTER_PORT=$p WORLD_SIZE=2 RANK=0 LOCAL_RANK=0 \
	"$bin" train --config "$out/long.yaml" --backend cuda --replicas 1 --stage base --out "$out/killed" 2> "$out/killed0.log" &
k0=$!
for _ in $(seq 600); do grep -q "iter 2/400" "$out/killed1.log" && break; sleep 0.2; done
{ kill -9 $k1; wait $k1; } 2>/dev/null || true
tk=$(date +%s)
code=0
timeout 60 tail --pid=$k0 -f /dev/null || { kill -9 $k0; echo "rank 0 still running 60 s after rank 1 was killed"; exit 1; }
wait $k0 || code=$?
if [ $code = 0 ] || ! grep -q "lost rank 1 while at iteration\|NCCL all-reduce" "$out/killed0.log"; then
	echo "rank 0 after rank 1 was killed: exit $code"; cat "$out/killed0.log"; exit 1
fi
echo "rank 1 killed: rank 0 exited $code after $(( $(date +%s) - tk )) s: $(grep -o 'rank 0 lost rank 1.*\|rank 0: .*NCCL.*' "$out/killed0.log" | head -1)"
# A rank stopped (SIGSTOP: alive, silent) inside NCCL training: the watchdog
# (FSODGPU_NCCL_TIMEOUT=3s here) fails rank 0 instead of a hang.
p=$(port)
env FSODGPU_NCCL_TIMEOUT=3s MASTER_ADDR=127.0.0.1 MASTER_PORT=$p WORLD_SIZE=2 RANK=1 LOCAL_RANK=1 \
	"$bin" train --config "$out/long.yaml" --backend cuda --replicas 1 --stage base --out "$out/stopped" 2> "$out/stopped1.log" &
s1=$!
env FSODGPU_NCCL_TIMEOUT=3s MASTER_ADDR=127.0.0.1 MASTER_PORT=$p WORLD_SIZE=2 RANK=0 LOCAL_RANK=0 \
	"$bin" train --config "$out/long.yaml" --backend cuda --replicas 1 --stage base --out "$out/stopped" 2> "$out/stopped0.log" &
s0=$!
for _ in $(seq 600); do grep -q "iter 2/400" "$out/stopped1.log" && break; sleep 0.2; done
kill -STOP $s1
ts=$(date +%s)
code=0
timeout 60 tail --pid=$s0 -f /dev/null || { kill -9 $s0 $s1; echo "rank 0 still running 60 s after rank 1 was stopped"; exit 1; }
wait $s0 || code=$?
{ kill -9 $s1; wait $s1; } 2>/dev/null || true
if [ $code = 0 ] || ! grep -q "did not finish within 3s (FSODGPU_NCCL_TIMEOUT)" "$out/stopped0.log"; then
	echo "rank 0 after rank 1 was stopped: exit $code"; cat "$out/stopped0.log"; exit 1
fi
echo "rank 1 stopped: rank 0 exited $code after $(( $(date +%s) - ts )) s: $(grep -o 'rank 0: the NCCL all-reduce.*' "$out/stopped0.log" | head -1)"
t3=$(date +%s)
echo "emu-nccl: single process $((t1 - t0)) s, two NCCL ranks $((t2 - t1)) s, two TCP ranks $((t2b - t2)) s, kill and stop checks $((t3 - t2b)) s"
