// A stand-in for NCCL 2 (libnccl.so.2) beside the emulated driver, so that
// the cuda binary's NCCL code (cuda/nccl.go, cuda/nccl_rank.go,
// engine/dist/nccl*_cuda.go) runs without GPUs: the same dlopen, the same
// entry points, the same ABI (ncclResult_t, ncclDataType_t, ncclRedOp_t are
// ints; ncclUniqueId is 128 bytes passed by value; ncclComm_t is a pointer).
//
// What it implements: ncclGetVersion, ncclGetErrorString, ncclGetLastError,
// ncclGetUniqueId, ncclCommInitRank, ncclCommInitAll, ncclAllReduce
// (float32, sum: all this project reduces), ncclGroupStart/ncclGroupEnd,
// ncclCommDestroy, ncclCommAbort, ncclCommCount, ncclCommUserRank,
// ncclCommCuDevice, ncclCommGetAsyncError. Anything else is absent, so a
// dlsym of it fails as with an NCCL too old to have it.
//
// Transport. Across processes the communicator is a star over TCP around
// rank 0: ncclGetUniqueId opens a listening socket and writes its address
// (FSODGPU_EMU_NCCL_HOST or 127.0.0.1, and the port) and a random nonce into
// the id; ncclCommInitRank on rank 0 accepts the other ranks (each says its
// nonce, rank and rank count), the others connect to the address in the id.
// Each all-reduce: every rank sends rank 0 a header (sequence number, count,
// type, op) and its data; rank 0 checks the headers agree, sums in float32 in
// rank order (rank 0 + rank 1 + ...), and sends the sum back. Within one
// process (ncclCommInitAll) the communicators of a clique share memory and
// are summed in communicator order at ncclGroupEnd.
//
// Semantics, and where they differ from NCCL's:
//  - Blocking. The emulated driver runs every kernel and copy at the call,
//    so a buffer is final when ncclAllReduce is called; the stand-in reduces
//    then (or at ncclGroupEnd inside a group) and returns after the result
//    is in place. NCCL only enqueues on the stream and returns. Code that
//    forgets to order a later read after the stream cannot fail here.
//  - Device memory is the emulator's (host addresses), read and written
//    directly; the stream argument is accepted and not used.
//  - A single-process clique's collectives must be issued inside one
//    ncclGroupStart/ncclGroupEnd from one thread (what cuda/nccl.go does);
//    NCCL also allows one thread per communicator, which is not emulated.
//  - Errors: a peer that closes its connection (exits, is killed) fails the
//    call with ncclRemoteError on the others; a peer silent for
//    FSODGPU_EMU_NCCL_TIMEOUT seconds (default 300) fails it with
//    ncclSystemError; ranks issuing different all-reduces (count, type, op)
//    fail with ncclInvalidUsage naming them. NCCL itself would often hang
//    or corrupt instead; the message goes to stderr and ncclGetLastError.
//  - Sums are float32 in rank order; NCCL's ring and tree orders differ,
//    so results agree with NCCL's only to float32 rounding (both give
//    every rank the same bits).
//  - Nothing of NCCL's transports (NVLink, InfiniBand, shared memory),
//    topology detection, algorithms, channels or speed is modelled.

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace {

enum {
    ncclSuccess = 0,
    ncclUnhandledCudaError = 1,
    ncclSystemError = 2,
    ncclInternalError = 3,
    ncclInvalidArgument = 4,
    ncclInvalidUsage = 5,
    ncclRemoteError = 6,
};
const int ncclFloat32 = 7;
const int ncclSum = 0;
const int kVersion = 21805;  // reported as NCCL 2.18.5: the ABI emulated

struct UniqueId {  // the 128 bytes of ncclUniqueId
    char magic[8];     // "fsodnccl"
    uint64_t nonce;    // tells this id's ranks from another job's
    uint16_t port;
    char host[64];
    char pad[128 - 8 - 8 - 2 - 64];
};
static_assert(sizeof(UniqueId) == 128, "ncclUniqueId is 128 bytes");

struct Hello {  // a rank joining rank 0
    char magic[8];
    uint64_t nonce;
    int32_t rank, nranks;
};

struct OpHeader {  // one all-reduce on the wire
    uint64_t seq;
    uint64_t count;
    int32_t dtype, op;
};

struct Clique;

struct Comm {
    int rank = 0, nranks = 1;
    int device = 0;
    std::vector<int> fds;  // rank 0: fds[r] is rank r (fds[0] = -1); others: fds[0] is rank 0
    uint64_t seq = 0;
    Clique* clique = nullptr;  // set for ncclCommInitAll communicators
    int broken = 0;             // a failed collective leaves the communicator unusable
};

struct Clique {
    std::vector<Comm*> comms;
    int live;
};

struct Op {
    const void* send;
    void* recv;
    size_t count;
    int dtype, op;
    Comm* comm;
};

std::mutex mu;
std::map<uint64_t, int> listeners;  // nonce → listening fd of ids made here
char last_error[1024] = "";
thread_local int group_depth = 0;
thread_local std::vector<Op> group_ops;

int fail(int code, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
int fail(int code, const char* fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "fsodgpu-emu-nccl: %s\n", msg);
    std::lock_guard<std::mutex> g(mu);
    snprintf(last_error, sizeof last_error, "%s", msg);
    return code;
}

int timeout_ms() {
    const char* v = getenv("FSODGPU_EMU_NCCL_TIMEOUT");
    int s = v ? atoi(v) : 0;
    return (s > 0 ? s : 300) * 1000;
}

// io moves exactly n bytes, waiting at most timeout_ms for each piece.
// Returns 0, or ncclRemoteError (the peer closed) / ncclSystemError.
int io(int fd, void* buf, size_t n, bool writing, const char* what, int peer) {
    char* p = (char*)buf;
    while (n > 0) {
        struct pollfd pf = {fd, (short)(writing ? POLLOUT : POLLIN), 0};
        int r = poll(&pf, 1, timeout_ms());
        if (r == 0)
            return fail(ncclSystemError, "%s rank %d: nothing for %d s (FSODGPU_EMU_NCCL_TIMEOUT)", what, peer,
                        timeout_ms() / 1000);
        if (r < 0) {
            if (errno == EINTR) continue;
            return fail(ncclSystemError, "%s rank %d: poll: %s", what, peer, strerror(errno));
        }
        ssize_t k = writing ? send(fd, p, n, MSG_NOSIGNAL) : recv(fd, p, n, 0);
        if (k == 0)
            return fail(ncclRemoteError, "%s rank %d: the connection closed (the process exited or was killed)", what, peer);
        if (k < 0) {
            if (errno == EINTR || errno == EAGAIN) continue;
            if (errno == ECONNRESET || errno == EPIPE)
                return fail(ncclRemoteError, "%s rank %d: %s (the process exited or was killed)", what, peer, strerror(errno));
            return fail(ncclSystemError, "%s rank %d: %s", what, peer, strerror(errno));
        }
        p += k;
        n -= (size_t)k;
    }
    return ncclSuccess;
}

void nodelay(int fd) {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

uint64_t random_nonce() {
    uint64_t v = 0;
    FILE* f = fopen("/dev/urandom", "rb");
    if (!f || fread(&v, sizeof v, 1, f) != 1) v = (uint64_t)time(nullptr) ^ ((uint64_t)getpid() << 32);
    if (f) fclose(f);
    return v;
}

void close_comm(Comm* c) {
    for (int fd : c->fds)
        if (fd >= 0) close(fd);
    c->fds.clear();
}

int init_root(Comm* c, const UniqueId& id) {
    int ln;
    {
        std::lock_guard<std::mutex> g(mu);
        auto it = listeners.find(id.nonce);
        if (it == listeners.end())
            return fail(ncclInvalidUsage, "ncclCommInitRank(rank 0 of %d): the id was not made by ncclGetUniqueId in this process (rank 0 must make it)",
                        c->nranks);
        ln = it->second;
        listeners.erase(it);
    }
    c->fds.assign(c->nranks, -1);
    int joined = 1;
    while (joined < c->nranks) {
        struct pollfd pf = {ln, POLLIN, 0};
        int r = poll(&pf, 1, timeout_ms());
        if (r == 0) {
            std::string missing;
            for (int k = 1; k < c->nranks; ++k)
                if (c->fds[k] < 0) missing += " " + std::to_string(k);
            close(ln);
            close_comm(c);
            return fail(ncclSystemError, "ncclCommInitRank(rank 0 of %d): rank(s)%s did not join within %d s", c->nranks,
                        missing.c_str(), timeout_ms() / 1000);
        }
        if (r < 0) {
            if (errno == EINTR) continue;
            close(ln);
            close_comm(c);
            return fail(ncclSystemError, "ncclCommInitRank: poll: %s", strerror(errno));
        }
        int fd = accept(ln, nullptr, nullptr);
        if (fd < 0) continue;
        nodelay(fd);
        Hello h;
        if (io(fd, &h, sizeof h, false, "ncclCommInitRank: hello from", -1) != ncclSuccess ||
            memcmp(h.magic, "fsodnccl", 8) != 0 || h.nonce != id.nonce) {
            close(fd);  // not one of this id's ranks
            continue;
        }
        if (h.nranks != c->nranks || h.rank < 1 || h.rank >= c->nranks || c->fds[h.rank] >= 0) {
            close(fd);
            close(ln);
            close_comm(c);
            return fail(ncclInvalidUsage, "ncclCommInitRank(rank 0 of %d): a rank says it is rank %d of %d", c->nranks,
                        h.rank, h.nranks);
        }
        c->fds[h.rank] = fd;
        ++joined;
    }
    close(ln);
    // Everyone is in: release them (ncclCommInitRank returns on every rank
    // only once all have called it, as NCCL's does).
    for (int k = 1; k < c->nranks; ++k) {
        char ok = 'K';
        if (int r = io(c->fds[k], &ok, 1, true, "ncclCommInitRank: releasing", k)) {
            close_comm(c);
            return r;
        }
    }
    return ncclSuccess;
}

int init_peer(Comm* c, const UniqueId& id) {
    char port[16];
    snprintf(port, sizeof port, "%u", (unsigned)id.port);
    char host[65];
    memcpy(host, id.host, 64);
    host[64] = 0;
    struct addrinfo hints = {}, *res = nullptr;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    if (int e = getaddrinfo(host, port, &hints, &res))
        return fail(ncclSystemError, "ncclCommInitRank(rank %d): resolving rank 0's %s:%s: %s", c->rank, host, port, gai_strerror(e));
    int fd = -1;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        fd = socket(res->ai_family, SOCK_STREAM, 0);
        if (fd >= 0 && connect(fd, res->ai_addr, res->ai_addrlen) == 0) break;
        if (fd >= 0) close(fd);
        fd = -1;
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        if ((t.tv_sec - t0.tv_sec) * 1000 > timeout_ms()) break;
        usleep(100 * 1000);
    }
    freeaddrinfo(res);
    if (fd < 0)
        return fail(ncclSystemError, "ncclCommInitRank(rank %d): could not reach rank 0 at %s:%s within %d s", c->rank, host,
                    port, timeout_ms() / 1000);
    nodelay(fd);
    Hello h = {};
    memcpy(h.magic, "fsodnccl", 8);
    h.nonce = id.nonce;
    h.rank = c->rank;
    h.nranks = c->nranks;
    char ok = 0;
    int r = io(fd, &h, sizeof h, true, "ncclCommInitRank: joining", 0);
    if (!r) r = io(fd, &ok, 1, false, "ncclCommInitRank: waiting for the other ranks via", 0);
    if (r) {
        close(fd);
        return r;
    }
    c->fds.assign(1, fd);
    return ncclSuccess;
}

int check_op(const Op& o) {
    if (!o.comm) return fail(ncclInvalidArgument, "ncclAllReduce: null communicator");
    if (o.dtype != ncclFloat32)
        return fail(ncclInvalidArgument, "ncclAllReduce: data type %d is not emulated (only ncclFloat32)", o.dtype);
    if (o.op != ncclSum) return fail(ncclInvalidArgument, "ncclAllReduce: reduction %d is not emulated (only ncclSum)", o.op);
    if (o.count > 0 && (!o.send || !o.recv)) return fail(ncclInvalidArgument, "ncclAllReduce: null buffer");
    if (o.comm->broken) return fail(ncclInvalidUsage, "ncclAllReduce: the communicator failed earlier");
    return ncclSuccess;
}

// run_rank_op is one all-reduce of a multi-process communicator.
int run_rank_op(const Op& o) {
    Comm* c = o.comm;
    OpHeader h = {c->seq++, (uint64_t)o.count, o.dtype, o.op};
    size_t bytes = o.count * sizeof(float);
    if (o.recv != o.send && bytes) memmove(o.recv, o.send, bytes);
    float* acc = (float*)o.recv;
    if (c->nranks == 1) return ncclSuccess;
    int r = ncclSuccess;
    if (c->rank != 0) {
        int fd = c->fds[0];
        char status = 0;
        if (!r) r = io(fd, &h, sizeof h, true, "ncclAllReduce: sending to", 0);
        if (!r && bytes) r = io(fd, acc, bytes, true, "ncclAllReduce: sending to", 0);
        if (!r) r = io(fd, &status, 1, false, "ncclAllReduce: waiting for", 0);
        if (!r && status != 0) {
            char msg[512] = "";
            uint32_t n = 0;
            io(fd, &n, sizeof n, false, "ncclAllReduce: reading the error of", 0);
            n = n < sizeof msg - 1 ? n : sizeof msg - 1;
            io(fd, msg, n, false, "ncclAllReduce: reading the error of", 0);
            r = fail(ncclInvalidUsage, "ncclAllReduce (rank %d): rank 0 says: %s", c->rank, msg);
        }
        if (!r && bytes) r = io(fd, acc, bytes, false, "ncclAllReduce: receiving the sum from", 0);
    } else {
        std::vector<float> in(o.count);
        std::string bad;
        for (int k = 1; k < c->nranks && !r; ++k) {
            OpHeader hk;
            r = io(c->fds[k], &hk, sizeof hk, false, "ncclAllReduce: receiving from", k);
            if (!r && bad.empty() && (hk.seq != h.seq || hk.count != h.count || hk.dtype != h.dtype || hk.op != h.op)) {
                char m[256];
                snprintf(m, sizeof m, "ranks issue different all-reduces: rank 0 its #%llu (%llu elements), rank %d its #%llu (%llu elements)",
                         (unsigned long long)h.seq, (unsigned long long)h.count, k, (unsigned long long)hk.seq,
                         (unsigned long long)hk.count);
                bad = m;
            }
            if (!r && hk.count > 0) {
                std::vector<float> tmp;
                float* dst = in.data();
                if (hk.count != h.count) {
                    tmp.resize(hk.count);
                    dst = tmp.data();
                }
                r = io(c->fds[k], dst, hk.count * sizeof(float), false, "ncclAllReduce: receiving from", k);
                if (!r && bad.empty())
                    for (size_t j = 0; j < o.count; ++j) acc[j] += in[j];  // float32, rank order
            }
        }
        if (!r) {
            char status = bad.empty() ? 0 : 1;
            for (int k = 1; k < c->nranks && !r; ++k) {
                r = io(c->fds[k], &status, 1, true, "ncclAllReduce: answering", k);
                if (!r && status) {
                    uint32_t n = (uint32_t)bad.size();
                    r = io(c->fds[k], &n, sizeof n, true, "ncclAllReduce: answering", k);
                    if (!r) r = io(c->fds[k], (void*)bad.data(), n, true, "ncclAllReduce: answering", k);
                } else if (!r && bytes) {
                    r = io(c->fds[k], acc, bytes, true, "ncclAllReduce: sending the sum to", k);
                }
            }
            if (!r && !bad.empty()) r = fail(ncclInvalidUsage, "ncclAllReduce (rank 0): %s", bad.c_str());
        }
    }
    if (r) c->broken = 1;
    return r;
}

// run_clique_ops sums the j-th all-reduce of every communicator of a clique.
int run_clique_ops(Clique* q, const std::vector<const Op*>& ops) {
    size_t n = q->comms.size();
    std::vector<std::vector<const Op*>> per(n);
    for (const Op* o : ops)
        for (size_t k = 0; k < n; ++k)
            if (q->comms[k] == o->comm) per[k].push_back(o);
    for (size_t k = 1; k < n; ++k)
        if (per[k].size() != per[0].size())
            return fail(ncclInvalidUsage,
                        "ncclGroupEnd: communicator %zu of a clique issued %zu all-reduces, communicator 0 %zu (the stand-in needs every communicator's collectives in one group)",
                        k, per[k].size(), per[0].size());
    for (size_t j = 0; j < per[0].size(); ++j) {
        size_t count = per[0][j]->count;
        for (size_t k = 1; k < n; ++k)
            if (per[k][j]->count != count)
                return fail(ncclInvalidUsage, "ncclGroupEnd: all-reduce %zu has %zu elements on communicator %zu, %zu on communicator 0",
                            j, per[k][j]->count, k, count);
        std::vector<float> sum(count, 0.0f);
        for (size_t k = 0; k < n; ++k) {
            const float* s = (const float*)per[k][j]->send;
            for (size_t e = 0; e < count; ++e) sum[e] += s[e];  // float32, communicator order
        }
        for (size_t k = 0; k < n; ++k)
            if (count) memcpy(per[k][j]->recv, sum.data(), count * sizeof(float));
    }
    return ncclSuccess;
}

int run_ops(std::vector<Op>& ops) {
    int first = ncclSuccess;
    std::map<Clique*, std::vector<const Op*>> cliques;
    for (const Op& o : ops) {
        if (o.comm->clique && o.comm->clique->comms.size() > 1) {
            cliques[o.comm->clique].push_back(&o);
            continue;
        }
        int r = run_rank_op(o);
        if (r && !first) first = r;
    }
    for (auto& kv : cliques) {
        int r = run_clique_ops(kv.first, kv.second);
        if (r && !first) first = r;
    }
    return first;
}

}  // namespace

extern "C" {

typedef Comm* ncclComm_t;

int ncclGetVersion(int* v) {
    if (!v) return ncclInvalidArgument;
    *v = kVersion;
    return ncclSuccess;
}

const char* ncclGetErrorString(int r) {
    switch (r) {
        case ncclSuccess: return "no error";
        case ncclUnhandledCudaError: return "unhandled cuda error";
        case ncclSystemError: return "unhandled system error (fsodgpu emulated NCCL: see its stderr line)";
        case ncclInternalError: return "internal error";
        case ncclInvalidArgument: return "invalid argument (fsodgpu emulated NCCL: see its stderr line)";
        case ncclInvalidUsage: return "invalid usage (fsodgpu emulated NCCL: see its stderr line)";
        case ncclRemoteError: return "remote process exited or there was a network error";
    }
    return "unknown result code";
}

const char* ncclGetLastError(ncclComm_t) {
    std::lock_guard<std::mutex> g(mu);
    return last_error;
}

int ncclGetUniqueId(UniqueId* id) {
    if (!id) return fail(ncclInvalidArgument, "ncclGetUniqueId: null id");
    memset(id, 0, sizeof *id);
    const char* host = getenv("FSODGPU_EMU_NCCL_HOST");
    if (!host || !*host) host = "127.0.0.1";
    int ln = socket(AF_INET, SOCK_STREAM, 0);
    if (ln < 0) return fail(ncclSystemError, "ncclGetUniqueId: socket: %s", strerror(errno));
    int one = 1;
    setsockopt(ln, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_ANY);
    a.sin_port = 0;
    socklen_t al = sizeof a;
    if (bind(ln, (struct sockaddr*)&a, sizeof a) != 0 || listen(ln, 128) != 0 || getsockname(ln, (struct sockaddr*)&a, &al) != 0) {
        close(ln);
        return fail(ncclSystemError, "ncclGetUniqueId: listening: %s", strerror(errno));
    }
    memcpy(id->magic, "fsodnccl", 8);
    id->nonce = random_nonce();
    id->port = ntohs(a.sin_port);
    snprintf(id->host, sizeof id->host, "%s", host);
    std::lock_guard<std::mutex> g(mu);
    listeners[id->nonce] = ln;
    return ncclSuccess;
}

int ncclCommInitRank(ncclComm_t* comm, int nranks, UniqueId id, int rank) {
    if (!comm) return fail(ncclInvalidArgument, "ncclCommInitRank: null communicator pointer");
    if (nranks < 1 || rank < 0 || rank >= nranks)
        return fail(ncclInvalidArgument, "ncclCommInitRank: rank %d of %d", rank, nranks);
    if (memcmp(id.magic, "fsodnccl", 8) != 0)
        return fail(ncclInvalidArgument, "ncclCommInitRank: the id was not made by this stand-in's ncclGetUniqueId");
    static bool said = false;
    if (!said && !getenv("FSODGPU_EMU_NCCL_QUIET")) {
        said = true;
        fprintf(stderr, "fsodgpu-emu-nccl: emulated libnccl.so.2 (TCP star around rank 0 at %.64s:%u, float32 sums in rank order, blocking)\n",
                id.host, (unsigned)id.port);
    }
    Comm* c = new Comm;
    c->rank = rank;
    c->nranks = nranks;
    int r = nranks == 1 ? ncclSuccess : rank == 0 ? init_root(c, id) : init_peer(c, id);
    if (r) {
        delete c;
        return r;
    }
    *comm = c;
    return ncclSuccess;
}

int ncclCommInitAll(ncclComm_t* comms, int ndev, const int* devlist) {
    if (!comms || ndev < 1) return fail(ncclInvalidArgument, "ncclCommInitAll: %d devices", ndev);
    Clique* q = new Clique;
    q->live = ndev;
    for (int k = 0; k < ndev; ++k) {
        Comm* c = new Comm;
        c->rank = k;
        c->nranks = ndev;
        c->device = devlist ? devlist[k] : k;
        c->clique = q;
        q->comms.push_back(c);
        comms[k] = c;
    }
    return ncclSuccess;
}

int ncclGroupStart(void) {
    ++group_depth;
    return ncclSuccess;
}

int ncclGroupEnd(void) {
    if (group_depth == 0) return fail(ncclInvalidUsage, "ncclGroupEnd without ncclGroupStart");
    if (--group_depth > 0) return ncclSuccess;
    std::vector<Op> ops;
    ops.swap(group_ops);
    return run_ops(ops);
}

int ncclAllReduce(const void* send, void* recv, size_t count, int dtype, int op, ncclComm_t comm, void* /*stream*/) {
    Op o = {send, recv, count, dtype, op, comm};
    if (int r = check_op(o)) return r;
    if (group_depth > 0) {
        group_ops.push_back(o);
        return ncclSuccess;
    }
    if (comm->clique && comm->clique->comms.size() > 1)
        return fail(ncclInvalidUsage,
                    "ncclAllReduce on a %zu-device clique outside a group: the stand-in runs a single-process clique only inside ncclGroupStart/ncclGroupEnd from one thread",
                    comm->clique->comms.size());
    std::vector<Op> ops{o};
    return run_ops(ops);
}

int ncclCommDestroy(ncclComm_t comm) {
    if (!comm) return ncclSuccess;
    close_comm(comm);
    if (Clique* q = comm->clique) {
        if (--q->live == 0) delete q;
    }
    delete comm;
    return ncclSuccess;
}

int ncclCommAbort(ncclComm_t comm) { return ncclCommDestroy(comm); }

int ncclCommCount(const ncclComm_t comm, int* count) {
    if (!comm || !count) return ncclInvalidArgument;
    *count = comm->nranks;
    return ncclSuccess;
}

int ncclCommUserRank(const ncclComm_t comm, int* rank) {
    if (!comm || !rank) return ncclInvalidArgument;
    *rank = comm->rank;
    return ncclSuccess;
}

int ncclCommCuDevice(const ncclComm_t comm, int* device) {
    if (!comm || !device) return ncclInvalidArgument;
    *device = comm->device;
    return ncclSuccess;
}

int ncclCommGetAsyncError(ncclComm_t comm, int* err) {
    if (!comm || !err) return ncclInvalidArgument;
    *err = comm->broken ? ncclRemoteError : ncclSuccess;
    return ncclSuccess;
}

}  // extern "C"
