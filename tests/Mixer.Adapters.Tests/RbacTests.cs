using Mixer.Adapters.Policy;
using Mixer.Sdk;
using Mixer.Sdk.Adapters;
using Mixer.Sdk.Templates;

namespace Mixer.Adapters.Tests;

public sealed class RbacTests
{
    // The bookinfo example from Istio 1.0's docs, as the runtime hands it over.
    private const string Policy = """
        {
          "cacheDuration": "30s",
          "serviceRoles": [
            {"namespace": "default", "name": "service-viewer",
             "spec": {"rules": [{"services": ["*"], "methods": ["GET"], "constraints": [{"key": "destination.labels[app]", "values": ["productpage", "details", "reviews", "ratings"]}]}]}},
            {"namespace": "default", "name": "products-admin",
             "spec": {"rules": [{"services": ["products.default.svc.cluster.local"], "paths": ["/admin/*", "*/status"], "methods": ["*"]}]}},
            {"namespace": "other", "name": "everything", "spec": {"rules": [{"services": ["*"], "methods": ["*"]}]}}
          ],
          "serviceRoleBindings": [
            {"namespace": "default", "name": "bind-service-viewer",
             "spec": {"subjects": [{"properties": {"source.namespace": "istio-system"}}, {"user": "*", "properties": {"request.auth.claims[iss]": "trusted"}}], "roleRef": {"kind": "ServiceRole", "name": "service-viewer"}}},
            {"namespace": "default", "name": "bind-admins",
             "spec": {"subjects": [{"user": "alice"}, {"group": "ops"}], "roleRef": {"kind": "ServiceRole", "name": "products-admin"}}},
            {"namespace": "other", "name": "trial", "spec": {"subjects": [{"user": "*"}], "roleRef": {"kind": "ServiceRole", "name": "everything"}, "mode": "PERMISSIVE"}}
          ]
        }
        """;

    private readonly RbacAdapter _adapter = new();

    private static AuthorizationInstance Request(
        string user = "bob",
        string groups = "",
        string ns = "default",
        string service = "products.default.svc.cluster.local",
        string method = "GET",
        string path = "/",
        (string, string)[]? subjectProps = null,
        (string, string)[]? actionProps = null) => new()
    {
        Name = "requestcontext.authorization.istio-system",
        Subject = new AuthorizationSubject
        {
            User = user,
            Groups = groups,
            Properties = (subjectProps ?? []).ToDictionary(p => p.Item1, p => AttributeValue.String(p.Item2)),
        },
        Action = new AuthorizationAction
        {
            Namespace = ns,
            Service = service,
            Method = method,
            Path = path,
            Properties = (actionProps ?? []).ToDictionary(p => p.Item1, p => AttributeValue.String(p.Item2)),
        },
    };

    private async Task<CheckResult> CheckAsync(AuthorizationInstance request)
    {
        var h = await Build.HandlerAsync<IAuthorizationHandler>(_adapter, Policy);
        return await h.HandleAuthorizationAsync(request, default);
    }

    [Fact]
    public async Task Allowed_IsOk_ForCacheDuration()
    {
        var r = await CheckAsync(Request(user: "alice", method: "DELETE", path: "/admin/users"));

        r.StatusCode.ShouldBe(StatusCodes.Ok);
        r.ValidDuration.ShouldBe(TimeSpan.FromSeconds(30));
        r.ValidUseCount.ShouldBeGreaterThan(0);
    }

    [Fact]
    public async Task Denied_IsPermissionDenied_WithIstiosMessage()
    {
        var r = await CheckAsync(Request(user: "mallory", method: "DELETE", path: "/admin/users"));

        r.StatusCode.ShouldBe(StatusCodes.PermissionDenied);
        r.Message.ShouldBe("RBAC: permission denied.");
        r.ValidDuration.ShouldBe(TimeSpan.FromSeconds(30));
    }

    [Theory]
    [InlineData("alice", "", "/admin/x", true)]
    [InlineData("carol", "ops", "/admin/x", true)]
    [InlineData("carol", "ops,dev", "/admin/x", false)]
    [InlineData("alice", "", "/v1/status", true)]
    [InlineData("alice", "", "/v1/books", false)]
    public async Task Paths_AndSubjects_UsePrefixSuffixAndWildcardMatches(string user, string groups, string path, bool allowed)
    {
        var r = await CheckAsync(Request(user: user, groups: groups, method: "POST", path: path));

        (r.StatusCode == StatusCodes.Ok).ShouldBe(allowed);
    }

    [Fact]
    public async Task Constraints_AreCheckedAgainstActionProperties()
    {
        var fromIstioSystem = new[] { ("source.namespace", "istio-system") };

        (await CheckAsync(Request(service: "reviews.default.svc.cluster.local", subjectProps: fromIstioSystem, actionProps: [("destination.labels[app]", "reviews")])))
            .StatusCode.ShouldBe(StatusCodes.Ok);
        (await CheckAsync(Request(service: "billing.default.svc.cluster.local", subjectProps: fromIstioSystem, actionProps: [("destination.labels[app]", "billing")])))
            .StatusCode.ShouldBe(StatusCodes.PermissionDenied);
        (await CheckAsync(Request(service: "reviews.default.svc.cluster.local", subjectProps: fromIstioSystem)))
            .StatusCode.ShouldBe(StatusCodes.PermissionDenied);
        (await CheckAsync(Request(service: "reviews.default.svc.cluster.local", method: "POST", subjectProps: fromIstioSystem, actionProps: [("destination.labels[app]", "reviews")])))
            .StatusCode.ShouldBe(StatusCodes.PermissionDenied);
    }

    [Fact]
    public async Task SubjectProperties_MustAllMatch_EvenWhenTheUserMatches()
    {
        AuthorizationInstance Viewer(string issuer) => Request(service: "reviews.default.svc.cluster.local", subjectProps: [("request.auth.claims[iss]", issuer)], actionProps: [("destination.labels[app]", "reviews")]);

        (await CheckAsync(Viewer("trusted"))).StatusCode.ShouldBe(StatusCodes.Ok);
        (await CheckAsync(Viewer("someone-else"))).StatusCode.ShouldBe(StatusCodes.PermissionDenied);
    }

    [Fact]
    public async Task RolesOnlyApplyInTheirNamespace_AndPermissiveBindingsGrantNothing()
    {
        (await CheckAsync(Request(user: "alice", ns: "staging", method: "GET", path: "/admin/x"))).StatusCode.ShouldBe(StatusCodes.PermissionDenied);
        (await CheckAsync(Request(ns: "other", service: "x.other.svc.cluster.local"))).StatusCode.ShouldBe(StatusCodes.PermissionDenied);
    }

    [Fact]
    public async Task ActionWithoutMethodOrPath_IsDenied()
    {
        (await CheckAsync(Request(user: "alice", path: ""))).StatusCode.ShouldBe(StatusCodes.PermissionDenied);
    }

    [Fact]
    public async Task NoRolesAtAll_DeniesEverything()
    {
        var h = await Build.HandlerAsync<IAuthorizationHandler>(_adapter, """{"configStoreUrl": "k8s://"}""");

        var r = await h.HandleAuthorizationAsync(Request(), default);

        r.StatusCode.ShouldBe(StatusCodes.PermissionDenied);
        r.ValidDuration.ShouldBe(TimeSpan.FromSeconds(60));
    }

    [Fact]
    public void Validate_BrokenRolesAndBindings_NameTheirFields()
    {
        Build.Problems(_adapter, """
            {"cacheDuration": "-1s",
             "serviceRoles": [
               {"namespace": "default", "name": "r", "spec": {"rules": [{"services": [], "methods": ["GET"], "constraints": [{"key": "", "values": []}]}]}},
               {"namespace": "default", "name": "ok", "spec": {"rules": [{"services": ["*"], "methods": ["GET"]}]}},
               {"namespace": "default", "name": "ok", "spec": {"rules": []}}],
             "serviceRoleBindings": [
               {"namespace": "default", "name": "b1", "spec": {"subjects": [{}], "roleRef": {"kind": "ClusterRole", "name": "missing"}}},
               {"namespace": "staging", "name": "b2", "spec": {"subjects": [{"user": "x"}], "roleRef": {"kind": "ServiceRole", "name": "ok"}, "mode": "SOMETIMES"}}]}
            """).ShouldBe([
            "cacheDuration: must be >= 0",
            "serviceRoles[0].spec.rules[0].services: must list at least one service (\"*\" for all)",
            "serviceRoles[0].spec.rules[0].constraints[0].key: must not be empty",
            "serviceRoles[0].spec.rules[0].constraints[0].values: must list at least one value",
            "serviceRoles[2].name: duplicate ServiceRole ok in namespace default",
            "serviceRoleBindings[0].spec.roleRef.kind: must be ServiceRole, not 'ClusterRole'",
            "serviceRoleBindings[0].spec.roleRef.name: no ServiceRole missing in namespace default",
            "serviceRoleBindings[0].spec.subjects[0]: must set user, group or properties",
            "serviceRoleBindings[1].spec.roleRef.name: no ServiceRole ok in namespace staging",
            "serviceRoleBindings[1].spec.mode: must be ENFORCED or PERMISSIVE, not 'SOMETIMES'",
        ]);
    }
}
