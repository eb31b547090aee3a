// The DI demo in C++: the C ABI behind small RAII wrappers and lambdas. Linked statically.
#include "omnitron.h"

#include <cstdio>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace omni {

// Throws on any non-OK status, with the library's message.
inline void check(OmnitronStatus s) {
    if (s != OMNITRON_STATUS_OK) throw std::runtime_error(omnitron_last_error_message());
}

template <typename T, void (*Free)(T *)>
struct Deleter {
    void operator()(T *p) const { Free(p); }
};
using TokenPtr = std::unique_ptr<OmnitronToken, Deleter<OmnitronToken, omnitron_token_free>>;
using ModulePtr = std::unique_ptr<OmnitronModule, Deleter<OmnitronModule, omnitron_module_free>>;
using ProviderPtr = std::unique_ptr<OmnitronProvider, Deleter<OmnitronProvider, omnitron_provider_free>>;
using ContainerPtr = std::unique_ptr<OmnitronContainer, Deleter<OmnitronContainer, omnitron_container_free>>;
using ScopePtr = std::unique_ptr<OmnitronScope, Deleter<OmnitronScope, omnitron_scope_free>>;

inline TokenPtr token(const char *name) {
    OmnitronToken *t = nullptr;
    check(omnitron_token_new(name, &t));
    return TokenPtr(t);
}

// A factory as a std::function over the dependency pointers; the container deletes what it owns.
using Factory = std::function<void *(void *const *deps)>;

// Every callback is a captureless lambda returning OmnitronStatus. Exceptions must not leave a
// callback (they would unwind through the library): each catches and returns a status instead.
template <typename T>
ProviderPtr factory(const OmnitronToken *t, std::vector<const OmnitronToken *> deps, uint32_t lifetime,
                    std::function<T *(void *const *)> make) {
    // The provider owns its std::function: the library deletes it (free_user_data) with the provider.
    auto *f = new Factory([make](void *const *d) -> void * { return make(d); });
    OmnitronProvider *p = nullptr;
    check(omnitron_provider_factory(
        t,
        [](void *ud, void *const *d, size_t, void **out) -> OmnitronStatus {
            try {
                *out = (*static_cast<Factory *>(ud))(d);
                return OMNITRON_STATUS_OK;
            } catch (const std::exception &e) {
                omnitron_callback_error(e.what());
                return OMNITRON_STATUS_CALLBACK_FAILED;
            }
        },
        f, [](void *ud) { delete static_cast<Factory *>(ud); }, &p));
    ProviderPtr provider(p);
    for (auto *dep : deps) check(omnitron_provider_add_dependency(p, dep, 0));
    check(omnitron_provider_set_lifetime(p, lifetime));
    check(omnitron_provider_on_destroy(
        p,
        [](void *, void *instance) -> OmnitronStatus {
            delete static_cast<T *>(instance);
            return OMNITRON_STATUS_OK;
        },
        nullptr, nullptr));
    return provider;
}

}  // namespace omni

struct AppConfig { std::string database_url, greeting; };
struct UserRepository {
    int id;
    std::string url;
    std::string find_name(unsigned user) const { return user == 1 ? "Ada" : user == 2 ? "Grace" : "stranger"; }
};
struct Request { std::string id; unsigned user_id; };
struct RequestContext { std::string request_id; unsigned user_id; };
struct GreetingService {
    AppConfig *config;
    UserRepository *repo;
    RequestContext *ctx;
    std::string greet() const {
        return config->greeting + ", " + repo->find_name(ctx->user_id) + "! (request " + ctx->request_id + ", user " +
               std::to_string(ctx->user_id) + " from " + repo->url + ", repository #" + std::to_string(repo->id) + ")";
    }
};

int main() try {
    using namespace omni;
    static AppConfig config{"postgres://demo", "Hello"};
    static int repositories = 0;
    auto tconfig = token("AppConfig"), trepo = token("UserRepository"), tctx = token("RequestContext"),
         tgreeter = token("GreetingService");

    OmnitronModule *raw = nullptr;
    check(omnitron_module_new("DataModule", &raw));
    ModulePtr data(raw);
    check(omnitron_module_new("AppModule", &raw));
    ModulePtr app(raw);

    OmnitronProvider *value = nullptr;
    check(omnitron_provider_value(tconfig.get(), &config, &value));
    ProviderPtr config_provider(value);
    check(omnitron_module_add_provider(data.get(), config_provider.get()));
    auto repo = factory<UserRepository>(trepo.get(), {tconfig.get()}, OMNITRON_LIFETIME_SINGLETON,
                                        [](void *const *d) {
                                            return new UserRepository{++repositories, static_cast<AppConfig *>(d[0])->database_url};
                                        });
    check(omnitron_module_add_provider(data.get(), repo.get()));
    check(omnitron_module_export(data.get(), tconfig.get()));
    check(omnitron_module_export(data.get(), trepo.get()));

    auto ctx = factory<RequestContext>(tctx.get(), {omnitron_token_context()}, OMNITRON_LIFETIME_SCOPED, [](void *const *d) {
        auto *r = static_cast<Request *>(d[0]);
        return new RequestContext{r->id, r->user_id};
    });
    auto greeter = factory<GreetingService>(
        tgreeter.get(), {tconfig.get(), trepo.get(), tctx.get()}, OMNITRON_LIFETIME_SCOPED, [](void *const *d) {
            return new GreetingService{static_cast<AppConfig *>(d[0]), static_cast<UserRepository *>(d[1]),
                                       static_cast<RequestContext *>(d[2])};
        });
    check(omnitron_module_add_provider(app.get(), ctx.get()));
    check(omnitron_module_add_provider(app.get(), greeter.get()));
    check(omnitron_module_import(app.get(), data.get()));

    OmnitronContainer *c = nullptr;
    check(omnitron_container_new_from_module(app.get(), &c));
    ContainerPtr container(c);
    for (Request req : {Request{"r-1", 1}, Request{"r-2", 2}}) {
        OmnitronScope *s = nullptr;
        check(omnitron_container_create_scope(container.get(), &req, nullptr, &s));
        ScopePtr scope(s);
        void *out = nullptr;
        check(omnitron_scope_resolve(scope.get(), tgreeter.get(), &out));
        std::printf("c++:        %s\n", static_cast<GreetingService *>(out)->greet().c_str());
    }
    check(omnitron_container_dispose(container.get()));
    return 0;
} catch (const std::exception &e) {
    std::fprintf(stderr, "c++: %s\n", e.what());
    return 1;
}
