using Istio.Mixer.V1;
using Mixer.Client;

namespace Mixer.Proxy.Tests;

public sealed class ProxyConfigTests
{
    private const string Yaml = """
        mixer: 127.0.0.1:9091
        policy: FAIL_CLOSE
        workload:
          name: ratings-v1
          namespace: default
          service: ratings.default.svc.cluster.local
          labels: {app: ratings, version: v1}
        listeners:
        - {name: in, listen: "127.0.0.1:15001", upstream: "127.0.0.1:8080"}
        - {name: out, direction: outbound, listen: "127.0.0.1:15002", upstream: "127.0.0.1:9080", service: reviews.default.svc.cluster.local}
        - {name: db, protocol: tcp, listen: "127.0.0.1:15003", upstream: "127.0.0.1:5432"}
        quotaSpecs:
        - name: request-count
          rules:
          - match:
            - clause:
                request.method: {exact: POST}
                request.headers[x-tier]: {regex: "free|trial"}
            quotas:
            - {quota: requestcount, charge: 5}
          - quotas:
            - {quota: everything, charge: 1}
        quotaSpecBindings:
        - quotaSpecs: [{name: request-count, namespace: default}]
          services: [{name: ratings, namespace: default}]
        """;

    [Fact]
    public void FromYaml_SidecarConfig_ReadsIdentityListenersAndQuotaSpecs()
    {
        var config = ProxyConfig.FromYaml(Yaml);
        config.Validate();

        config.FailPolicy.ShouldBe(NetworkFailPolicy.FailClose);
        config.Workload.Labels["version"].ShouldBe("v1");
        config.Listeners.Select(l => (l.Name, l.Direction, l.Protocol)).ShouldBe([("in", Direction.Inbound, "http"), ("out", Direction.Outbound, "http"), ("db", Direction.Inbound, "tcp")]);
        config.Check.ShouldBeTrue();
        config.Report.ShouldBeTrue();
    }

    [Fact]
    public void QuotaPlan_BoundService_ChargesTheQuotasOfEveryMatchingRule()
    {
        var config = ProxyConfig.FromYaml(Yaml);
        var plan = QuotaPlan.For(config, "ratings.default.svc.cluster.local", "ratings", "default");
        var layout = new AttributeLayout(["request.method", "request.headers"]);
        AttributeRecord Request(string method, string tier)
        {
            var record = new AttributeRecord(layout);
            record.SetString(0, method);
            record.SetStringMap(1).Add("x-tier", tier);
            return record;
        }

        plan.QuotasFor(Request("POST", "free")).ShouldBe([new QuotaRequest("requestcount", 5), new QuotaRequest("everything", 1)]);
        plan.QuotasFor(Request("POST", "gold")).ShouldBe([new QuotaRequest("everything", 1)]);
        plan.QuotasFor(Request("GET", "trial")).ShouldBe([new QuotaRequest("everything", 1)]);
    }

    [Fact]
    public void QuotaPlan_UnboundService_ChargesNothing()
    {
        var plan = QuotaPlan.For(ProxyConfig.FromYaml(Yaml), "reviews.default.svc.cluster.local", "reviews", "default");

        plan.IsEmpty.ShouldBeTrue();
    }

    [Fact]
    public void FromArgs_Flags_BuildListenersAndOverrideTheYaml()
    {
        var config = ProxyConfig.FromArgs(["--mixer", "127.0.0.1:7000", "--check", "false", "--labels", "app=x,version=v2", "--outbound", "127.0.0.1:0=127.0.0.1:81@b.svc", "--tcp-inbound", "127.0.0.1:0=127.0.0.1:82"]);

        config.Mixer.ShouldBe("127.0.0.1:7000");
        config.Check.ShouldBeFalse();
        config.Workload.Labels.ShouldBe(new Dictionary<string, string> { ["app"] = "x", ["version"] = "v2" });
        config.Listeners[0].Service.ShouldBe("b.svc");
        config.Listeners[0].Direction.ShouldBe(Direction.Outbound);
        config.Listeners[1].IsTcp.ShouldBeTrue();
    }

    [Fact]
    public void Validate_BadSettings_NamesEveryOneOfThem()
    {
        var config = ProxyConfig.FromYaml("""
            mixer: nowhere
            policy: MAYBE
            checkTimeoutMs: 0
            tcpReportIntervalMs: -5
            listeners:
            - {listen: "127.0.0.1:1", upstream: "app", protocol: udp}
            quotaSpecs:
            - name: q
              rules:
              - quotas: [{quota: "", charge: 0}]
            quotaSpecBindings:
            - quotaSpecs: [{name: missing}]
            """);

        var error = Should.Throw<ProxyConfigException>(config.Validate).Message;

        error.ShouldContain("mixer: 'nowhere' is not host:port");
        error.ShouldContain("policy: 'MAYBE' must be FAIL_OPEN or FAIL_CLOSE");
        error.ShouldContain("checkTimeoutMs: 0 must be a positive number of milliseconds");
        error.ShouldContain("tcpReportIntervalMs: -5 must be a positive number of milliseconds");
        error.ShouldContain("listeners[0].upstream: 'app' is not host:port");
        error.ShouldContain("listeners[0].protocol: 'udp' must be http, http2 or tcp");
        error.ShouldContain("quotaSpecs[0].rules[0].quotas: each needs a quota name and a positive charge");
        error.ShouldContain("quotaSpecBindings: quotaSpec 'missing' is not defined under quotaSpecs");
    }

    [Theory]
    [InlineData(7, 403, "PERMISSION_DENIED")]
    [InlineData(16, 401, "UNAUTHENTICATED")]
    [InlineData(8, 429, "RESOURCE_EXHAUSTED")]
    [InlineData(9, 400, "FAILED_PRECONDITION")]
    [InlineData(5, 404, "NOT_FOUND")]
    [InlineData(14, 503, "UNAVAILABLE")]
    [InlineData(4, 504, "DEADLINE_EXCEEDED")]
    [InlineData(1, 499, "CANCELLED")]
    [InlineData(10, 409, "ABORTED")]
    [InlineData(12, 501, "UNIMPLEMENTED")]
    [InlineData(13, 500, "INTERNAL")]
    [InlineData(99, 500, "UNKNOWN")]
    public void StatusHttp_GrpcCode_MapsAsIstiosProxy(int code, int http, string name)
    {
        StatusHttp.HttpCode(code).ShouldBe(http);
        StatusHttp.Body(new Google.Rpc.Status { Code = code, Message = "why" }).ShouldBe(name + ":why");
    }
}
