using Istio.Mixer.V1;
using Mixer.Testing;
using HeaderOp = Istio.Mixer.V1.HeaderOperation.Types.Operation;

namespace Mixer.IntegrationTests;

/// <summary>One mixs serving the policy config of <see cref="PolicyConfig"/> from an fs:// directory.</summary>
public sealed class PolicyFixture : IAsyncLifetime
{
    public ConfigDir Config { get; } = new ConfigDir().WithDefaultAttributes();

    public MixsProcess Mixs { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Config.Write("denier.yaml", PolicyConfig.Denier)
            .Write("lists.yaml", PolicyConfig.Lists)
            .Write("quota.yaml", PolicyConfig.Quota)
            .Write("rbac.yaml", PolicyConfig.Rbac)
            .Write("headers.yaml", PolicyConfig.Headers)
            .Write("team.yaml", PolicyConfig.TeamRule);
        Mixs = await MixsProcess.StartAsync(Config.Path);
    }

    public async Task DisposeAsync()
    {
        await Mixs.DisposeAsync();
        Config.Dispose();
    }
}

/// <summary>Check and quota through the real mixs, enforcing Istio 1.0 policy config.</summary>
public sealed class PolicyTests(PolicyFixture fixture) : IClassFixture<PolicyFixture>
{
    private Istio.Mixer.V1.Mixer.MixerClient Client => fixture.Mixs.Client;

    private async Task<CheckResponse.Types.PreconditionResult> CheckAsync(TestAttributes attributes) =>
        (await Client.CheckAsync(attributes.Check())).Precondition;

    [Fact]
    public void Config_FromIstio10Yaml_LoadsWithoutErrors()
    {
        fixture.Mixs.Output.ShouldContain("Config generation 1 serving");
        fixture.Mixs.Output.ShouldContain(", 0 errors", customMessage: fixture.Mixs.Output);
    }

    [Fact]
    public async Task Check_NoRuleMatches_IsOkWithIstiosDefaultValidity()
    {
        var r = await CheckAsync(new TestAttributes().String("destination.service", "other.svc"));

        r.Status.Code.ShouldBe(0);
        r.ValidDuration.ToTimeSpan().ShouldBe(TimeSpan.FromMinutes(1));
        r.ValidUseCount.ShouldBe(10000);
    }

    [Fact]
    public async Task Check_DenierRuleMatches_IsDeniedWithTheHandlersStatus()
    {
        var r = await CheckAsync(new TestAttributes().String("destination.service", "denied.svc").Map("request.headers", ("clnt", "abc")));

        r.Status.Code.ShouldBe(7);
        r.Status.Message.ShouldBe("denyall.denier.istio-system:Not allowed");
        r.ValidDuration.ToTimeSpan().ShouldBe(TimeSpan.FromSeconds(5));
        r.ValidUseCount.ShouldBe(1000);
    }

    [Fact]
    public async Task Check_DenierRuleDoesNotMatch_IsOk()
    {
        var r = await CheckAsync(new TestAttributes().String("destination.service", "denied.svc").Map("request.headers", ("clnt", "xyz")));

        r.Status.Code.ShouldBe(0);
    }

    [Fact]
    public async Task Check_ReferencedAttributes_NameWhatTheRulesRead()
    {
        var r = await CheckAsync(new TestAttributes().String("destination.service", "denied.svc").Map("request.headers", ("clnt", "xyz"), ("other", "1")));
        var names = ReferencedNames.Of(r.ReferencedAttributes);

        names.ShouldContain("EXACT destination.service");
        names.ShouldContain("EXACT request.headers[clnt]");
        names.ShouldNotContain("EXACT request.headers[other]");

        // The whitelist rule reads source.labels["version"] for whitelist.svc only; the rbac rule's match reads destination.service.
        var absent = await CheckAsync(new TestAttributes().String("destination.service", "whitelist.svc"));
        ReferencedNames.Of(absent.ReferencedAttributes).ShouldContain("ABSENCE source.labels");
    }

    [Theory]
    [InlineData("v1", 0)]
    [InlineData("v2", 0)]
    [InlineData("v3", 5)]
    public async Task Check_Whitelist_LetsOnlyListedValuesThrough(string version, int code)
    {
        var r = await CheckAsync(new TestAttributes().String("destination.service", "whitelist.svc").Map("source.labels", ("version", version)));

        r.Status.Code.ShouldBe(code);
        if (code != 0)
        {
            r.Status.Message.ShouldContain("versions.listchecker.istio-system");
            r.Status.Message.ShouldContain(version);
        }
    }

    [Fact]
    public async Task Check_WhitelistValueMissing_FallsBackToTheDefaultAndIsDenied()
    {
        var r = await CheckAsync(new TestAttributes().String("destination.service", "whitelist.svc"));

        r.Status.Code.ShouldBe(5);
    }

    [Theory]
    [InlineData("10.1.2.3", 7)]
    [InlineData("10.255.255.255", 7)]
    [InlineData("192.168.1.7", 7)]
    [InlineData("192.168.1.8", 0)]
    [InlineData("11.0.0.1", 0)]
    public async Task Check_IpBlacklist_DeniesAddressesInTheListAndItsCidrRanges(string ip, int code)
    {
        var r = await CheckAsync(new TestAttributes().String("destination.service", "blacklist.svc").Ip("source.ip", ip));

        r.Status.Code.ShouldBe(code);
    }

    [Theory]
    [InlineData("alice", "GET", 0)]
    [InlineData("bob", "GET", 7)]
    [InlineData("alice", "DELETE", 7)]
    public async Task Check_Rbac_AllowsOnlyWhatARoleBindingGrants(string user, string method, int code)
    {
        var r = await CheckAsync(new TestAttributes()
            .String("destination.service", "ratings.default.svc.cluster.local")
            .String("destination.namespace", "default")
            .String("source.user", user)
            .String("request.method", method)
            .String("request.path", "/ratings/1"));

        r.Status.Code.ShouldBe(code);
        if (code != 0)
        {
            r.Status.Message.ShouldContain("handler.rbac.istio-system:");
        }
    }

    [Fact]
    public async Task Check_RuleWithHeaderOperations_FillsTheRouteDirective()
    {
        var r = await CheckAsync(new TestAttributes().String("destination.service", "headers.svc").Map("request.headers", ("user", "jane")));

        r.Status.Code.ShouldBe(0);
        var request = r.RouteDirective.RequestHeaderOperations;
        request.ShouldContain(o => o.Name == "x-user" && o.Value == "jane" && o.Operation == HeaderOp.Replace);
        request.ShouldContain(o => o.Name == "x-internal" && o.Operation == HeaderOp.Remove);
        r.RouteDirective.ResponseHeaderOperations.ShouldContain(o => o.Name == "x-served-by" && o.Value == "mixer" && o.Operation == HeaderOp.Append);
    }

    [Fact]
    public async Task Check_RuleWithoutHeaderOperations_HasNoRouteDirective()
    {
        var r = await CheckAsync(new TestAttributes().String("destination.service", "other.svc"));

        r.RouteDirective.ShouldBeNull();
    }

    [Theory]
    [InlineData("team-a", 7)]
    [InlineData("team-b", 0)]
    public async Task Check_RuleInANamespace_AppliesOnlyToThatNamespacesDestinations(string ns, int code)
    {
        var r = await CheckAsync(new TestAttributes().String("destination.service", "scoped.svc").String("destination.namespace", ns));

        r.Status.Code.ShouldBe(code);
    }

    [Fact]
    public async Task Check_RuleInANamespace_UsesTheSourceNamespaceForOutboundReports()
    {
        var r = await CheckAsync(new TestAttributes()
            .String("destination.service", "scoped.svc")
            .String("context.reporter.kind", "outbound")
            .String("source.namespace", "team-a")
            .String("destination.namespace", "team-b"));

        r.Status.Code.ShouldBe(7);
    }

    [Fact]
    public async Task Quota_IsExhaustedAfterMaxAmount_AndComesBackWhenTheWindowPasses()
    {
        var attributes = new TestAttributes().String("destination.service", "quota.svc").Map("source.labels", ("app", "exhaust-" + Guid.NewGuid().ToString("N")));
        var granted = new List<long>();
        for (var i = 0; i < 4; i++)
        {
            var response = await Client.CheckAsync(attributes.Check(("requestcount", 1)));
            response.Precondition.Status.Code.ShouldBe(0);
            granted.Add(response.Quotas["requestcount"].GrantedAmount);
        }

        granted.ShouldBe([1, 1, 1, 0]);

        // The rolling window is 2 s long: after it every unit is free again.
        await Task.Delay(TimeSpan.FromSeconds(2.3));
        var later = await Client.CheckAsync(attributes.Check(("requestcount", 3)));
        later.Quotas["requestcount"].GrantedAmount.ShouldBe(3);
        later.Quotas["requestcount"].ValidDuration.ToTimeSpan().ShouldBe(TimeSpan.FromSeconds(2));
    }

    [Fact]
    public async Task Quota_NameIsMatchedCaseInsensitively_AndBestEffortGetsWhatIsLeft()
    {
        var attributes = new TestAttributes().String("destination.service", "quota.svc").Map("source.labels", ("app", "case-" + Guid.NewGuid().ToString("N")));
        var request = attributes.Check(("RequestCount", 2));
        var first = await Client.CheckAsync(request);
        first.Quotas["RequestCount"].GrantedAmount.ShouldBe(2);

        var second = attributes.Check();
        second.Quotas["requestcount"] = new CheckRequest.Types.QuotaParams { Amount = 5, BestEffort = true };
        (await Client.CheckAsync(second)).Quotas["requestcount"].GrantedAmount.ShouldBe(1);
    }

    [Fact]
    public async Task Quota_RetriedWithTheSameDeduplicationId_GetsTheSameAnswer()
    {
        var attributes = new TestAttributes().String("destination.service", "quota.svc").Map("source.labels", ("app", "dedup-" + Guid.NewGuid().ToString("N")));
        var request = attributes.Check(("requestcount", 3));
        (await Client.CheckAsync(request)).Quotas["requestcount"].GrantedAmount.ShouldBe(3);

        // Same deduplication id: a retry, not a new allocation (the quota is spent, yet the answer repeats).
        (await Client.CheckAsync(request)).Quotas["requestcount"].GrantedAmount.ShouldBe(3);
        (await Client.CheckAsync(attributes.Check(("requestcount", 1)))).Quotas["requestcount"].GrantedAmount.ShouldBe(0);
    }

    [Fact]
    public async Task Quota_NotConfigured_IsGrantedInFull()
    {
        var response = await Client.CheckAsync(new TestAttributes().String("destination.service", "quota.svc").Check(("nosuchquota", 42)));

        response.Quotas["nosuchquota"].GrantedAmount.ShouldBe(42);
    }

    [Fact]
    public async Task Quota_RuleDoesNotMatch_IsGrantedInFull()
    {
        var response = await Client.CheckAsync(new TestAttributes().String("destination.service", "elsewhere.svc").Check(("requestcount", 100)));

        response.Quotas["requestcount"].GrantedAmount.ShouldBe(100);
    }

    [Fact]
    public async Task Quota_CheckDenied_IsNotAllocated()
    {
        var response = await Client.CheckAsync(new TestAttributes().String("destination.service", "denied.svc").Map("request.headers", ("clnt", "abc")).Check(("requestcount", 1)));

        response.Precondition.Status.Code.ShouldBe(7);
        response.Quotas.ShouldBeEmpty();
    }
}
