using Mixer.Adapters.Policy;
using Mixer.Sdk.Adapters;
using Mixer.Sdk.Templates;
using Microsoft.Extensions.Time.Testing;

namespace Mixer.Adapters.Tests;

public sealed class ListCheckerTests
{
    private readonly ListCheckerAdapter _adapter = new();
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2018, 7, 31, 12, 0, 0, TimeSpan.Zero));

    private static ListEntryInstance Entry(string value) => new() { Name = "sourceip.listentry.istio-system", Value = value };

    private async Task<CheckResult> CheckAsync(IListEntryHandler h, string value) => await h.HandleListEntryAsync(Entry(value), default);

    [Fact]
    public async Task Whitelist_OfStrings_AllowsMembers_AndMissesAreNotFound()
    {
        await using var h = await Build.HandlerAsync<IListEntryHandler>(_adapter, """{"overrides": ["v1", "v2"], "blacklist": false}""");

        var ok = await CheckAsync(h, "v1");
        ok.StatusCode.ShouldBe(StatusCodes.Ok);
        ok.ValidDuration.ShouldBe(TimeSpan.FromSeconds(300));
        ok.ValidUseCount.ShouldBe(10000);

        var miss = await CheckAsync(h, "V1");
        miss.StatusCode.ShouldBe(StatusCodes.NotFound);
        miss.Message.ShouldBe("V1 is not whitelisted");
    }

    [Fact]
    public async Task Blacklist_HitIsPermissionDenied_MissIsOk()
    {
        await using var h = await Build.HandlerAsync<IListEntryHandler>(_adapter, """{"overrides": ["evil"], "blacklist": true, "cachingInterval": "10s", "cachingUseCount": 3}""");

        var hit = await CheckAsync(h, "evil");
        hit.StatusCode.ShouldBe(StatusCodes.PermissionDenied);
        hit.Message.ShouldBe("evil is blacklisted");
        hit.ValidDuration.ShouldBe(TimeSpan.FromSeconds(10));
        hit.ValidUseCount.ShouldBe(3);
        (await CheckAsync(h, "nice")).StatusCode.ShouldBe(StatusCodes.Ok);
    }

    [Fact]
    public async Task CaseInsensitiveStrings_IgnoreCase()
    {
        await using var h = await Build.HandlerAsync<IListEntryHandler>(_adapter, """{"overrides": ["Reviews"], "entryType": "CASE_INSENSITIVE_STRINGS"}""");

        (await CheckAsync(h, "REVIEWS")).StatusCode.ShouldBe(StatusCodes.Ok);
        (await CheckAsync(h, "ratings")).StatusCode.ShouldBe(StatusCodes.NotFound);
    }

    [Theory]
    [InlineData("10.1.2.3", StatusCodes.PermissionDenied)]
    [InlineData("10.255.0.1", StatusCodes.PermissionDenied)]
    [InlineData("11.0.0.1", StatusCodes.Ok)]
    [InlineData("192.168.7.7", StatusCodes.PermissionDenied)]
    [InlineData("192.168.7.8", StatusCodes.Ok)]
    [InlineData("::ffff:10.9.9.9", StatusCodes.PermissionDenied)]
    [InlineData("2001:db8:1::42", StatusCodes.PermissionDenied)]
    [InlineData("2001:db9::1", StatusCodes.Ok)]
    [InlineData("not-an-ip", StatusCodes.InvalidArgument)]
    public async Task IpAddresses_MatchAddressesAndCidrRanges_V4AndV6(string value, int expected)
    {
        await using var h = await Build.HandlerAsync<IListEntryHandler>(
            _adapter,
            """{"overrides": ["10.0.0.0/8", "192.168.7.7", "2001:db8::/32"], "entryType": "IP_ADDRESSES", "blacklist": true}""");

        var r = await CheckAsync(h, value);

        r.StatusCode.ShouldBe(expected);
        if (expected == StatusCodes.InvalidArgument)
        {
            r.Message.ShouldBe("not-an-ip is not a valid IP address");
        }
    }

    [Fact]
    public async Task Regex_EntriesMatchAnywhereInTheValue()
    {
        await using var h = await Build.HandlerAsync<IListEntryHandler>(_adapter, """{"overrides": ["^/api/v[0-9]+/", "health"], "entryType": "REGEX"}""");

        (await CheckAsync(h, "/api/v2/books")).StatusCode.ShouldBe(StatusCodes.Ok);
        (await CheckAsync(h, "/internal/healthz")).StatusCode.ShouldBe(StatusCodes.Ok);
        (await CheckAsync(h, "/admin")).StatusCode.ShouldBe(StatusCodes.NotFound);
    }

    [Fact]
    public async Task Provider_ListIsFetchedRefreshedAndKeptWhenTheProviderFails_UntilTtl()
    {
        using var provider = new ListProvider { Body = "alice\nbob\n\n" };
        var p = $$"""{"providerUrl": "{{provider.Url}}", "refreshInterval": "10s", "ttl": "30s", "overrides": ["root"]}""";
        var h = await Build.HandlerAsync<IListEntryHandler>(_adapter, p, _time);
        await using var _ = h;
        var refresh = (ListCheckerHandler)h;

        // Fetched while building: the provider's lines plus the overrides.
        (await CheckAsync(h, "alice")).StatusCode.ShouldBe(StatusCodes.Ok);
        (await CheckAsync(h, "root")).StatusCode.ShouldBe(StatusCodes.Ok);
        (await CheckAsync(h, "carol")).StatusCode.ShouldBe(StatusCodes.NotFound);

        // A refresh picks up the new list.
        provider.Body = "carol\n";
        var next = refresh.NextFetchAsync();
        _time.Advance(TimeSpan.FromSeconds(10));
        await next.WaitAsync(TimeSpan.FromSeconds(20));
        (await CheckAsync(h, "carol")).StatusCode.ShouldBe(StatusCodes.Ok);
        (await CheckAsync(h, "alice")).StatusCode.ShouldBe(StatusCodes.NotFound);

        // The provider fails: the last good list keeps serving.
        provider.FailWith = 503;
        for (var i = 0; i < 2; i++)
        {
            next = refresh.NextFetchAsync();
            _time.Advance(TimeSpan.FromSeconds(10));
            await next.WaitAsync(TimeSpan.FromSeconds(20));
            (await CheckAsync(h, "carol")).StatusCode.ShouldBe(StatusCodes.Ok);
        }

        // 30s after the last good fetch the list is dropped: checks fail with INTERNAL.
        next = refresh.NextFetchAsync();
        _time.Advance(TimeSpan.FromSeconds(10));
        await next.WaitAsync(TimeSpan.FromSeconds(20));
        var dropped = await CheckAsync(h, "carol");
        dropped.StatusCode.ShouldBe(StatusCodes.Internal);
        dropped.Message.ShouldContain("HTTP 503");

        // The provider comes back: so does the list.
        provider.FailWith = 0;
        next = refresh.NextFetchAsync();
        _time.Advance(TimeSpan.FromSeconds(10));
        await next.WaitAsync(TimeSpan.FromSeconds(20));
        (await CheckAsync(h, "carol")).StatusCode.ShouldBe(StatusCodes.Ok);
        provider.Requests.ShouldBe(6);
    }

    [Fact]
    public async Task Provider_UnparsableEntries_KeepTheLastGoodList()
    {
        using var provider = new ListProvider { Body = "10.0.0.0/8\n" };
        var p = $$"""{"providerUrl": "{{provider.Url}}", "refreshInterval": "1s", "ttl": "1m", "entryType": "IP_ADDRESSES"}""";
        await using var h = await Build.HandlerAsync<IListEntryHandler>(_adapter, p, _time);

        provider.Body = "10.0.0.0/8\nnot an address\n";
        var next = ((ListCheckerHandler)h).NextFetchAsync();
        _time.Advance(TimeSpan.FromSeconds(1));
        await next.WaitAsync(TimeSpan.FromSeconds(20));

        (await CheckAsync(h, "10.1.1.1")).StatusCode.ShouldBe(StatusCodes.Ok);
    }

    [Fact]
    public async Task Provider_UnreachableAtStart_ChecksFailWithInternal()
    {
        using var provider = new ListProvider { FailWith = 500 };
        await using var h = await Build.HandlerAsync<IListEntryHandler>(_adapter, $$"""{"providerUrl": "{{provider.Url}}"}""", _time);

        (await CheckAsync(h, "x")).StatusCode.ShouldBe(StatusCodes.Internal);
    }

    [Fact]
    public void Validate_ReportsEveryProblemWithItsField()
    {
        Build.Problems(_adapter, """
            {"providerUrl": "ftp//nowhere", "refreshInterval": "500ms", "ttl": "100ms", "cachingInterval": "-1s",
             "cachingUseCount": -1, "entryType": "IP_ADDRESSES", "overrides": ["10.0.0.1", "10.0.0.0/33", "nope"]}
            """).ShouldBe([
            "providerUrl: 'ftp//nowhere' is not an http(s) URL with a host (e.g. http://lists.example.com/whitelist.txt)",
            "refreshInterval: refresh interval must be at least 1 second, it is 500ms",
            "ttl: ttl must be >= refreshInterval, ttl is 100ms and refreshInterval is 500ms",
            "cachingInterval: caching interval must be >= 0, it is -1s",
            "cachingUseCount: caching use count must be >= 0, it is -1",
            "overrides[1]: could not parse 10.0.0.0/33: the prefix length must be 0..32",
            "overrides[2]: could not parse nope: not an IP address or CIDR range (e.g. 10.0.0.1, 10.0.0.0/8, 2001:db8::/32)",
        ]);
        Build.Problems(_adapter, """{"entryType": "REGEX", "overrides": ["(unclosed"]}""").Single().ShouldStartWith("overrides[0]: could not parse regular expression (unclosed");
        Build.Problems(_adapter, """{"entryType": "WORDS"}""").Single().ShouldStartWith("entryType: ");
    }
}
