using System.Net;
using Google.Protobuf.WellKnownTypes;
using Istio.Mixer.V1;
using Microsoft.Extensions.Time.Testing;
using Mixer.Client;
using Condition = Istio.Mixer.V1.ReferencedAttributes.Types.Condition;
using PreconditionResult = Istio.Mixer.V1.CheckResponse.Types.PreconditionResult;

namespace Mixer.Client.Tests;

public sealed class CheckCacheTests
{
    private readonly FakeTimeProvider _time = new();

    /// <summary>A Mixer answer that read <paramref name="matches"/> (name, map key or null, condition), words in the message.</summary>
    internal static ReferencedAttributes Referenced(params (string Name, string? Key, Condition Condition)[] matches)
    {
        var referenced = new ReferencedAttributes();
        int Word(string w)
        {
            var i = referenced.Words.IndexOf(w);
            if (i < 0)
            {
                referenced.Words.Add(w);
                i = referenced.Words.Count - 1;
            }

            return -1 - i;
        }

        foreach (var (name, key, condition) in matches)
        {
            var m = new ReferencedAttributes.Types.AttributeMatch { Name = Word(name), Condition = condition };
            if (key is not null)
            {
                m.MapKey = Word(key);
            }

            referenced.AttributeMatches.Add(m);
        }

        return referenced;
    }

    private static PreconditionResult Answer(int code, ReferencedAttributes referenced, TimeSpan? duration = null, int uses = 10000) => new()
    {
        Status = new Google.Rpc.Status { Code = code, Message = code == 0 ? "" : "denied" },
        ValidDuration = Duration.FromTimeSpan(duration ?? TimeSpan.FromMinutes(1)),
        ValidUseCount = uses,
        ReferencedAttributes = referenced,
    };

    private static Attributes Request(string service, string clnt, string id = "1") => new Attributes()
        .SetString("destination.service", service)
        .SetString("request.id", id)
        .SetStringMap("request.headers", new Dictionary<string, string> { ["clnt"] = clnt, ["x-request-id"] = id });

    private static readonly ReferencedAttributes s_serviceAndClnt = Referenced(("destination.service", null, Condition.Exact), ("request.headers", "clnt", Condition.Exact));

    [Fact]
    public void TryGet_RequestAgreeingOnEveryReferencedValue_HitsEvenIfOthersDiffer()
    {
        var cache = new CheckCache(time: _time);
        cache.TryAdd(Request("a.svc", "abc", id: "1"), Answer(7, s_serviceAndClnt)).ShouldBeTrue();

        cache.TryGet(Request("a.svc", "abc", id: "2"), out var verdict).ShouldBeTrue();
        verdict.Status.Code.ShouldBe(7);
    }

    [Fact]
    public void TryGet_ReferencedMapValueDiffers_Misses()
    {
        // Istio 1.0.6's server-side cache left map values out of its key and served this request the other's answer.
        var cache = new CheckCache(time: _time);
        cache.TryAdd(Request("a.svc", "xyz"), Answer(0, s_serviceAndClnt));

        cache.TryGet(Request("a.svc", "abc"), out _).ShouldBeFalse();
        cache.TryGet(Request("a.svc", "xyz"), out _).ShouldBeTrue();
    }

    [Fact]
    public void TryGet_ReferencedMapKeyMissing_Misses()
    {
        var cache = new CheckCache(time: _time);
        cache.TryAdd(Request("a.svc", "xyz"), Answer(0, s_serviceAndClnt));
        var noKey = new Attributes().SetString("destination.service", "a.svc").SetStringMap("request.headers", new Dictionary<string, string> { ["other"] = "xyz" });

        cache.TryGet(noKey, out _).ShouldBeFalse();
    }

    [Fact]
    public void TryGet_AttributeAnswerFoundAbsentIsNowPresent_Misses()
    {
        var cache = new CheckCache(time: _time);
        var referenced = Referenced(("destination.service", null, Condition.Exact), ("source.user", null, Condition.Absence), ("request.headers", "auth", Condition.Absence));
        cache.TryAdd(Request("a.svc", "x"), Answer(0, referenced));

        cache.TryGet(Request("a.svc", "y"), out _).ShouldBeTrue();
        cache.TryGet(Request("a.svc", "x").SetString("source.user", "bob"), out _).ShouldBeFalse();
        cache.TryGet(Request("a.svc", "x").SetStringMap("request.headers", new Dictionary<string, string> { ["auth"] = "t" }), out _).ShouldBeFalse();
    }

    [Theory]
    [InlineData("duration")]
    [InlineData("ip")]
    [InlineData("timestamp")]
    [InlineData("double")]
    [InlineData("type")]
    public void TryGet_ReferencedValueOfAnyTypeDiffers_Misses(string kind)
    {
        var cache = new CheckCache(time: _time);
        Attributes With(int v) => kind switch
        {
            "duration" => new Attributes().SetDuration("x", TimeSpan.FromMilliseconds(v)),
            "ip" => new Attributes().SetIpAddress("x", IPAddress.Parse("10.0.0." + v)),
            "timestamp" => new Attributes().SetTimestamp("x", DateTimeOffset.UnixEpoch.AddSeconds(v)),
            "double" => new Attributes().SetDouble("x", v),
            _ => v == 1 ? new Attributes().SetString("x", "1") : new Attributes().SetInt64("x", 1),
        };
        cache.TryAdd(With(1), Answer(0, Referenced(("x", null, Condition.Exact))));

        cache.TryGet(With(2), out _).ShouldBeFalse();
        cache.TryGet(With(1), out _).ShouldBeTrue();
    }

    [Fact]
    public void TryGet_UseCountSpent_Misses()
    {
        var cache = new CheckCache(time: _time);
        cache.TryAdd(Request("a.svc", "x"), Answer(0, s_serviceAndClnt, uses: 2));

        cache.TryGet(Request("a.svc", "x"), out _).ShouldBeTrue();
        cache.TryGet(Request("a.svc", "x"), out _).ShouldBeTrue();
        cache.TryGet(Request("a.svc", "x"), out _).ShouldBeFalse();
    }

    [Fact]
    public void TryGet_LastTenthOfTheUses_AsksForOneRefresh()
    {
        var cache = new CheckCache(time: _time);
        cache.TryAdd(Request("a.svc", "x"), Answer(0, s_serviceAndClnt, uses: 20));
        var refreshes = new List<int>();

        for (var i = 1; i <= 20; i++)
        {
            cache.TryGet(Request("a.svc", "x"), out _, out var refresh).ShouldBeTrue();
            if (refresh)
            {
                refreshes.Add(i);
            }
        }

        // 2 of 20 uses left after the 18th: ask once, keep serving what is left.
        refreshes.ShouldBe([18]);
    }

    [Fact]
    public void TryGet_LastTenthOfTheDuration_AsksForARefresh()
    {
        var cache = new CheckCache(time: _time);
        cache.TryAdd(Request("a.svc", "x"), Answer(0, s_serviceAndClnt, duration: TimeSpan.FromSeconds(10), uses: -1));

        cache.TryGet(Request("a.svc", "x"), out _, out var early).ShouldBeTrue();
        _time.Advance(TimeSpan.FromSeconds(9.5));
        cache.TryGet(Request("a.svc", "x"), out _, out var late).ShouldBeTrue();

        early.ShouldBeFalse();
        late.ShouldBeTrue();
    }

    [Fact]
    public void TryGet_AfterValidDuration_Misses()
    {
        var cache = new CheckCache(time: _time);
        cache.TryAdd(Request("a.svc", "x"), Answer(0, s_serviceAndClnt, duration: TimeSpan.FromSeconds(5)));

        _time.Advance(TimeSpan.FromSeconds(4));
        cache.TryGet(Request("a.svc", "x"), out _).ShouldBeTrue();
        _time.Advance(TimeSpan.FromSeconds(2));
        cache.TryGet(Request("a.svc", "x"), out _).ShouldBeFalse();
        cache.Count.ShouldBe(0);
    }

    [Fact]
    public void TryAdd_NoUsesOrRegexOrUnknownWord_IsNotCached()
    {
        var cache = new CheckCache(time: _time);
        var regex = Referenced(("destination.service", null, Condition.Regex));
        var unknown = new ReferencedAttributes();
        unknown.AttributeMatches.Add(new ReferencedAttributes.Types.AttributeMatch { Name = -5, Condition = Condition.Exact });

        cache.TryAdd(Request("a.svc", "x"), Answer(0, s_serviceAndClnt, uses: 0)).ShouldBeFalse();
        cache.TryAdd(Request("a.svc", "x"), Answer(0, regex)).ShouldBeFalse();
        cache.TryAdd(Request("a.svc", "x"), Answer(0, unknown)).ShouldBeFalse();
        cache.TryGet(Request("a.svc", "x"), out _).ShouldBeFalse();
    }

    [Fact]
    public void TryAdd_BeyondCapacity_EvictsTheLeastRecentlyUsed()
    {
        var cache = new CheckCache(maxEntries: 2, time: _time);
        cache.TryAdd(Request("a.svc", "1"), Answer(0, s_serviceAndClnt));
        cache.TryAdd(Request("a.svc", "2"), Answer(0, s_serviceAndClnt));
        cache.TryGet(Request("a.svc", "1"), out _).ShouldBeTrue();
        cache.TryAdd(Request("a.svc", "3"), Answer(0, s_serviceAndClnt));

        cache.Count.ShouldBe(2);
        cache.Evictions.ShouldBe(1);
        cache.TryGet(Request("a.svc", "2"), out _).ShouldBeFalse();
        cache.TryGet(Request("a.svc", "1"), out _).ShouldBeTrue();
        cache.TryGet(Request("a.svc", "3"), out _).ShouldBeTrue();
    }

    [Fact]
    public void TryGet_TwoShapes_EachRequestFindsTheAnswerOfItsOwnShape()
    {
        var cache = new CheckCache(time: _time);
        cache.TryAdd(Request("a.svc", "x"), Answer(7, s_serviceAndClnt));
        cache.TryAdd(Request("b.svc", "x"), Answer(0, Referenced(("destination.service", null, Condition.Exact))));

        cache.TryGet(Request("a.svc", "x"), out var a).ShouldBeTrue();
        a.Status.Code.ShouldBe(7);
        cache.TryGet(Request("b.svc", "anything"), out var b).ShouldBeTrue();
        b.Status.Code.ShouldBe(0);
        cache.TryGet(Request("a.svc", "other"), out _).ShouldBeFalse();
    }
}
