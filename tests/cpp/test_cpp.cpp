// The C header from C++17: callbacks written as functions and captureless lambdas returning
// OmnitronStatus, RAII wrappers for handles and library memory, user_data owned by the library
// (deleted through free_user_data), and exceptions kept inside callbacks. Built with
// g++ -std=c++17 -Wall -Wextra -Werror against the shared and the static library and run under
// valgrind by `make test`.
#include "omnitron.h"

#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <unistd.h>

static int passed = 0, failed = 0;

#define CHECK(cond)                                                                             \
    do {                                                                                        \
        if (cond) {                                                                             \
            passed++;                                                                           \
        } else {                                                                                \
            failed++;                                                                           \
            const char *m_ = omnitron_last_error_message();                                     \
            std::fprintf(stderr, "FAIL %s:%d: %s (%s)\n", __FILE__, __LINE__, #cond, m_ ? m_ : ""); \
        }                                                                                       \
    } while (0)

// ---- the types a C++ user relies on ------------------------------------------------------------

// Callback types return OmnitronStatus, so functions and lambdas declared that way convert.
static_assert(std::is_same_v<std::invoke_result_t<OmnitronFactoryFn, void *, void *const *, size_t, void **>,
                             OmnitronStatus>);
static_assert(std::is_same_v<std::invoke_result_t<OmnitronHandlerFn, const char *, const uint8_t *, size_t,
                                                  OmnitronReply *, void *>,
                             OmnitronStatus>);
static_assert(std::is_same_v<decltype(omnitron_container_new(nullptr)), OmnitronStatus>);
static_assert(std::is_enum_v<OmnitronStatus> && sizeof(OmnitronStatus) == sizeof(uint32_t));
static_assert(OMNITRON_VERSION_NUMBER ==
              OMNITRON_MAKE_VERSION(OMNITRON_VERSION_MAJOR, OMNITRON_VERSION_MINOR, OMNITRON_VERSION_PATCH));

namespace omni {

// Errors as exceptions, outside callbacks.
struct Error : std::runtime_error {
    OmnitronStatus status;
    Error(OmnitronStatus s, const char *m) : std::runtime_error(m ? m : "?"), status(s) {}
};

inline void check(OmnitronStatus s) {
    if (s != OMNITRON_STATUS_OK) throw Error(s, omnitron_last_error_message());
}

// Handles: one deleter per _free function.
template <auto Free>
struct Deleter {
    template <typename T>
    void operator()(T *p) const { Free(p); }
};
template <typename T, auto Free>
using Handle = std::unique_ptr<T, Deleter<Free>>;
using Token = Handle<OmnitronToken, omnitron_token_free>;
using Provider = Handle<OmnitronProvider, omnitron_provider_free>;
using Container = Handle<OmnitronContainer, omnitron_container_free>;
using Scope = Handle<OmnitronScope, omnitron_scope_free>;
using Peer = Handle<OmnitronPeer, omnitron_peer_free>;
using Engine = Handle<OmnitronWorkflowEngine, omnitron_workflow_engine_free>;
using Workflow = Handle<OmnitronWorkflow, omnitron_workflow_free>;

// Library memory: strings and buffers both go back through omnitron_free.
using String = std::unique_ptr<char, Deleter<omnitron_free>>;
struct Buffer {
    OmnitronBuffer raw{nullptr, 0};
    Buffer() = default;
    Buffer(const Buffer &) = delete;
    Buffer &operator=(const Buffer &) = delete;
    ~Buffer() { omnitron_free(raw.data); }
    OmnitronBuffer *out() {
        omnitron_free(raw.data);
        raw = {nullptr, 0};
        return &raw;
    }
    std::string text() const { return raw.data ? std::string(reinterpret_cast<const char *>(raw.data), raw.len) : ""; }
};

inline Token token(const char *name) {
    OmnitronToken *t = nullptr;
    check(omnitron_token_new(name, &t));
    return Token(t);
}

// Runs a C++ callable as a callback body: exceptions become a status and a message, so nothing
// unwinds through the library.
template <typename F>
OmnitronStatus guarded(F &&f) noexcept {
    try {
        return f();
    } catch (const std::exception &e) {
        omnitron_callback_error(e.what());
        return OMNITRON_STATUS_CALLBACK_FAILED;
    } catch (...) {
        omnitron_callback_error("unknown C++ exception");
        return OMNITRON_STATUS_CALLBACK_FAILED;
    }
}

// A factory from any callable `void *(void *const *deps)`: the provider owns it (free_user_data).
using Make = std::function<void *(void *const *)>;

inline Provider factory(const Token &t, Make make) {
    OmnitronProvider *p = nullptr;
    check(omnitron_provider_factory(
        t.get(),
        [](void *ud, void *const *deps, size_t, void **out) -> OmnitronStatus {
            return guarded([&] {
                *out = (*static_cast<Make *>(ud))(deps);
                return OMNITRON_STATUS_OK;
            });
        },
        new Make(std::move(make)), [](void *ud) { delete static_cast<Make *>(ud); }, &p));
    return Provider(p);
}

template <typename T>
void deletes(const Provider &p) {
    check(omnitron_provider_on_destroy(
        p.get(),
        [](void *, void *instance) -> OmnitronStatus {
            delete static_cast<T *>(instance);
            return OMNITRON_STATUS_OK;
        },
        nullptr, nullptr));
}

}  // namespace omni

// ---- a plain function returning OmnitronStatus, used as a callback --------------------------------

struct Config {
    std::string url;
};
struct Repo {
    Config *config;
    std::string name() const { return "repo(" + config->url + ")"; }
};

static OmnitronStatus make_repo(void *, void *const *deps, size_t n, void **out) {
    if (n != 1 || deps[0] == nullptr) return OMNITRON_STATUS_INVALID_ARGUMENT;
    *out = new Repo{static_cast<Config *>(deps[0])};
    return OMNITRON_STATUS_OK;
}


static void test_di() {
    using namespace omni;
    static Config config{"postgres://cpp"};
    auto tconfig = token("Config"), trepo = token("Repo"), tgreeting = token("Greeting"), tbroken = token("Broken");
    OmnitronContainer *raw = nullptr;
    check(omnitron_container_new(&raw));
    Container c(raw);

    OmnitronProvider *value = nullptr;
    check(omnitron_provider_value(tconfig.get(), &config, &value));
    Provider pvalue(value);
    check(omnitron_container_register(c.get(), pvalue.get()));

    OmnitronProvider *p = nullptr;
    check(omnitron_provider_factory(trepo.get(), make_repo, nullptr, nullptr, &p));  // a named function
    Provider prepo(p);
    check(omnitron_provider_add_dependency(p, tconfig.get(), 0));
    deletes<Repo>(prepo);
    check(omnitron_container_register(c.get(), p));

    // A transient built by a capturing std::function (owned by the provider through free_user_data).
    int greetings = 0;
    auto pgreet = factory(tgreeting, [&greetings](void *const *deps) -> void * {
        ++greetings;
        return new std::string("hello from " + static_cast<Repo *>(deps[0])->name());
    });
    check(omnitron_provider_add_dependency(pgreet.get(), trepo.get(), 0));
    check(omnitron_provider_set_lifetime(pgreet.get(), OMNITRON_LIFETIME_TRANSIENT));
    check(omnitron_container_register(c.get(), pgreet.get()));

    // Who owns the result is known at the call site: a transient is ours, so a unique_ptr takes it.
    void *out = nullptr;
    uint32_t owner = OMNITRON_OWNER_NONE;
    check(omnitron_container_resolve_with_owner(c.get(), tgreeting.get(), &out, &owner));
    CHECK(owner == OMNITRON_OWNER_CALLER);
    std::unique_ptr<std::string> greeting(static_cast<std::string *>(out));
    CHECK(*greeting == "hello from repo(postgres://cpp)");
    check(omnitron_container_resolve_with_owner(c.get(), trepo.get(), &out, &owner));
    CHECK(owner == OMNITRON_OWNER_CONTAINER);  // the container's on_destroy deletes it
    CHECK(greetings == 1);

    // An exception inside a factory stays inside it: the caller gets a status and the message.
    auto pbroken = factory(tbroken, [](void *const *) -> void * { throw std::runtime_error("no disk"); });
    check(omnitron_container_register(c.get(), pbroken.get()));
    CHECK(omnitron_container_resolve(c.get(), tbroken.get(), &out) == OMNITRON_STATUS_FACTORY_FAILED);
    CHECK(std::strstr(omnitron_last_error_message(), "no disk") != nullptr);
    CHECK(out == nullptr);
    try {
        check(omnitron_container_resolve(c.get(), tbroken.get(), &out));
        CHECK(false);
    } catch (const Error &e) {
        CHECK(e.status == OMNITRON_STATUS_FACTORY_FAILED);
    }

    // A scope whose context the library deletes when the scope goes.
    struct Request {
        std::string id;
    };
    OmnitronScope *s = nullptr;
    check(omnitron_container_create_scope(
        c.get(), new Request{"r-1"}, [](void *ctx) { delete static_cast<Request *>(ctx); }, &s));
    Scope scope(s);
    check(omnitron_scope_resolve(scope.get(), omnitron_token_context(), &out));
    CHECK(static_cast<Request *>(out)->id == "r-1");

    String graph;
    {
        char *g = nullptr;
        check(omnitron_container_export_graph(c.get(), OMNITRON_GRAPH_MERMAID, &g));
        graph.reset(g);
    }
    CHECK(std::strstr(graph.get(), "graph TD") != nullptr);
    check(omnitron_container_dispose(c.get()));
}

// ---- RPC and workflows with lambdas --------------------------------------------------------------

static void test_rpc(const std::string &dir) {
    using namespace omni;
    const std::string address = "unix:" + dir + "/cpp.sock";
    OmnitronPeer *raw = nullptr;
    check(omnitron_peer_listen(address.c_str(), "cpp-server", "tok", &raw));
    Peer server(raw);
    const char *methods[] = {"shout"};
    // The handler's state is a std::string the peer owns and deletes once it is freed.
    check(omnitron_peer_expose(
        server.get(), "shout", "1.0.0", methods, 1, OMNITRON_FORMAT_JSON,
        [](const char *, const uint8_t *args, size_t len, OmnitronReply *reply, void *ud) -> OmnitronStatus {
            return omni::guarded([&] {
                std::string in(reinterpret_cast<const char *>(args), len);  // a JSON array: ["hi"]
                if (in.size() < 4) throw std::invalid_argument("shout takes one string");
                std::string word = in.substr(2, in.size() - 4);
                for (auto &ch : word) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
                std::string result = "\"" + word + *static_cast<std::string *>(ud) + "\"";
                return omnitron_reply_set(reply, reinterpret_cast<const uint8_t *>(result.data()), result.size());
            });
        },
        new std::string("!"), [](void *ud) { delete static_cast<std::string *>(ud); }));
    check(omnitron_peer_connect(address.c_str(), "cpp-client", "tok", &raw));
    Peer client(raw);
    Buffer out;
    check(omnitron_peer_call_json(client.get(), "shout", "shout", "[\"hi\"]", 0, out.out()));
    CHECK(out.text() == "\"HI!\"");
    CHECK(omnitron_peer_call_json(client.get(), "shout", "shout", "[]", 0, out.out()) ==
          OMNITRON_STATUS_CALLBACK_FAILED);
    CHECK(std::strstr(omnitron_last_error_message(), "shout takes one string") != nullptr);
    CHECK(out.raw.data == nullptr);

    // A subscription whose handler state (a counter shared with the test) the library lets go of.
    auto seen = std::make_shared<std::atomic<int>>(0);
    uint64_t sub = 0;
    check(omnitron_peer_subscribe(
        server.get(), "cpp.*",
        [](const char *, const uint8_t *, size_t, void *ud) {
            (*static_cast<std::shared_ptr<std::atomic<int>> *>(ud))->fetch_add(1);
        },
        new std::shared_ptr<std::atomic<int>>(seen),
        [](void *ud) { delete static_cast<std::shared_ptr<std::atomic<int>> *>(ud); }, &sub));
    check(omnitron_peer_publish_json(client.get(), "cpp.event", "1"));
    for (int i = 0; i < 2000 && seen->load() == 0; i++) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    CHECK(seen->load() == 1);
    bool removed = false;
    check(omnitron_peer_unsubscribe(server.get(), sub, &removed));
    CHECK(removed);
    // The library dropped its copy of the shared_ptr (on an engine thread, maybe a moment later).
    for (int i = 0; i < 2000 && seen.use_count() > 1; i++) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    CHECK(seen.use_count() == 1);
}

static void test_workflow() {
    using namespace omni;
    OmnitronWorkflow *wraw = nullptr;
    check(omnitron_workflow_new("cpp-order", &wraw));
    Workflow wf(wraw);
    check(omnitron_workflow_add_stage(
        wf.get(), "price",
        [](const char *input, const OmnitronStageContext *ctx, OmnitronStageOutput *out, void *) -> OmnitronStatus {
            std::string result = std::string("{\"stage\":\"") + ctx->stage + "\",\"input\":" + input + "}";
            return omnitron_stage_output_set(out, result.c_str());
        },
        nullptr, nullptr));
    OmnitronWorkflowEngine *eraw = nullptr;
    check(omnitron_workflow_engine_open(nullptr, &eraw));
    Engine e(eraw);
    check(omnitron_workflow_engine_register(e.get(), wf.get()));
    Buffer out;
    check(omnitron_workflow_run(e.get(), "cpp-order", "{\"n\":1}", nullptr, out.out()));
    CHECK(out.text() == "{\"price\":{\"input\":{\"n\":1},\"stage\":\"price\"}}");
}

int main() {
    char dir[] = "/tmp/omnitron-cpp-XXXXXX";
    if (!mkdtemp(dir)) return 2;
    try {
        test_di();
        test_rpc(dir);
        test_workflow();
    } catch (const omni::Error &e) {
        std::fprintf(stderr, "unexpected failure: %s\n", e.what());
        failed++;
    }
    unlink((std::string(dir) + "/cpp.sock").c_str());
    rmdir(dir);
    std::printf("C++ over the C header: %d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
