using System.Collections.Concurrent;
using System.Net;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Istio.Mixer.V1;
using Microsoft.Extensions.Time.Testing;
using Mixer.Client;
using Mixer.Sdk;
using Condition = Istio.Mixer.V1.ReferencedAttributes.Types.Condition;
using PreconditionResult = Istio.Mixer.V1.CheckResponse.Types.PreconditionResult;

namespace Mixer.Client.Tests;

/// <summary>
/// Attribute records (the sidecar's per-request sets): the check cache, the quota cache and the
/// report batcher treat a record exactly as its message form, so a sidecar that switches form sees
/// the same answers and Mixer receives the same sets.
/// </summary>
public sealed class AttributeRecordTests
{
    private static readonly AttributeLayout s_layout = new(["destination.service", "request.headers", "request.id", "request.size", "request.time", "response.duration", "source.ip", "check.cache_hit", "latency.ratio", "source.user"]);

    private readonly FakeTimeProvider _time = new();

    private static AttributeRecord Record(string service = "a.svc", string clnt = "abc", string id = "1", long size = 10, bool withUser = false, string ip = "10.1.2.3")
    {
        var r = new AttributeRecord(s_layout);
        r.SetString(0, service);
        var headers = r.SetStringMap(1);
        headers.Add("clnt", clnt);
        headers.Add("x-request-id", id);
        r.SetString(2, id);
        r.SetInt64(3, size);
        r.SetTimestamp(4, new DateTime(2026, 12, 1, 23, 0, 0, DateTimeKind.Utc).Ticks + (size * 10));
        r.SetDuration(5, TimeSpan.FromTicks(12345 + size));
        r.SetBytes(6, ByteString.CopyFrom(IPAddress.Parse(ip).GetAddressBytes()));
        r.SetBool(7, size % 2 == 0);
        r.SetDouble(8, size / 4.0);
        if (withUser)
        {
            r.SetString(9, "bob");
        }

        return r;
    }

    private static PreconditionResult Answer(int code, ReferencedAttributes referenced) => new()
    {
        Status = new Google.Rpc.Status { Code = code, Message = code == 0 ? "" : "denied" },
        ValidDuration = Duration.FromTimeSpan(TimeSpan.FromMinutes(1)),
        ValidUseCount = 10000,
        ReferencedAttributes = referenced,
    };

    [Fact]
    public void ToAttributes_HoldsEverySetSlotWithItsTypedValue()
    {
        var a = Record(size: 4, withUser: true).ToAttributes().Attributes_;

        a.Count.ShouldBe(10);
        a["destination.service"].StringValue.ShouldBe("a.svc");
        a["request.headers"].StringMapValue.Entries.ShouldBe(new Dictionary<string, string> { ["clnt"] = "abc", ["x-request-id"] = "1" });
        a["request.size"].Int64Value.ShouldBe(4);
        a["request.time"].TimestampValue.ToDateTime().ShouldBe(new DateTime(2026, 12, 1, 23, 0, 0, DateTimeKind.Utc).AddTicks(40));
        a["response.duration"].DurationValue.ToTimeSpan().ShouldBe(TimeSpan.FromTicks(12349));
        new IPAddress(a["source.ip"].BytesValue.ToByteArray()).ShouldBe(IPAddress.Parse("10.1.2.3"));
        a["check.cache_hit"].BoolValue.ShouldBeTrue();
        a["latency.ratio"].DoubleValue.ShouldBe(1.0);
        a["source.user"].StringValue.ShouldBe("bob");
    }

    [Fact]
    public void Layout_RefusesDuplicateNames_AndKnowsNoOtherNames()
    {
        Should.Throw<ArgumentException>(() => new AttributeLayout(["a", "b", "a"])).Message.ShouldContain("'a' is listed twice");
        s_layout.SlotOf("nope").ShouldBe(-1);
        Should.Throw<KeyNotFoundException>(() => s_layout["nope"]).Message.ShouldContain("nope");
        Should.Throw<InvalidOperationException>(() => Record().StringOf(3)).Message.ShouldContain("'request.size' holds Int64Value, not a string");
    }

    [Theory]
    [InlineData("destination.service", null)]
    [InlineData("request.headers", "clnt")]
    [InlineData("request.size", null)]
    [InlineData("request.time", null)]
    [InlineData("response.duration", null)]
    [InlineData("source.ip", null)]
    [InlineData("check.cache_hit", null)]
    [InlineData("latency.ratio", null)]
    public void CheckCache_AnswerStoredForTheMessage_IsFoundByTheEqualRecord_AndMissedByADifferentOne(string name, string? key)
    {
        var cache = new CheckCache(time: _time);
        cache.TryAdd(Record(size: 4).ToAttributes(), Answer(7, CheckCacheTests.Referenced((name, key, Condition.Exact)))).ShouldBeTrue();

        cache.TryGet(Record(size: 4, id: "other"), out var verdict).ShouldBeTrue();
        verdict.Status.Code.ShouldBe(7);

        var differing = name switch
        {
            "destination.service" => Record(service: "b.svc", size: 4),
            "request.headers" => Record(clnt: "xyz", size: 4),
            "source.ip" => Record(size: 4, ip: "10.1.2.4"),
            _ => Record(size: 5),
        };
        cache.TryGet(differing, out _).ShouldBeFalse();
    }

    [Fact]
    public void CheckCache_AnswerStoredForTheRecordForm_IsFoundByTheMessage_AndAbsenceHoldsForSlotsAndNamesNotInTheLayout()
    {
        var cache = new CheckCache(time: _time);
        var referenced = CheckCacheTests.Referenced(
            ("destination.service", null, Condition.Exact),
            ("request.headers", "clnt", Condition.Exact),
            ("source.user", null, Condition.Absence),
            ("not.in.layout", null, Condition.Absence),
            ("request.headers", "auth", Condition.Absence));
        cache.TryAdd(Record().ToAttributes(), Answer(0, referenced)).ShouldBeTrue();

        cache.TryGet(Record(id: "2"), out _).ShouldBeTrue();
        cache.TryGet(Record(id: "3").ToAttributes(), out _).ShouldBeTrue();
        cache.TryGet(Record(withUser: true), out _).ShouldBeFalse();
        var withAuth = Record();
        withAuth.MapOf(1).Add("auth", "token");
        cache.TryGet(withAuth, out _).ShouldBeFalse();
        var noHeaders = Record();
        noHeaders.Remove(1);
        cache.TryGet(noHeaders, out _).ShouldBeFalse();
    }

    [Fact]
    public void ReportBatch_OfRecords_TheServerSeesEachRecordWhole_AndUnchangedSlotsAreNotResent()
    {
        var batch = new AttributeCompressor().CreateReportBatch();
        var records = new[] { Record(id: "1"), Record(id: "1"), Record(id: "2", size: 11), Record(id: "3", size: 11, withUser: true) };
        foreach (var r in records)
        {
            batch.TryAdd(r).ShouldBeTrue();
        }

        var request = batch.Build();

        request.Attributes[1].CalculateSize().ShouldBe(0);
        request.Attributes[2].Strings.Count.ShouldBe(1);
        request.Attributes[2].StringMaps.Count.ShouldBe(1);
        request.Attributes[3].Strings.Count.ShouldBe(2);
        ServerSees(request).ShouldBe(records.Select(r => Canonical(r.ToAttributes())).ToList());
    }

    [Fact]
    public void ReportBatch_RecordLackingASlotThePreviousHad_OrAnotherForm_StartsANewBatch()
    {
        var batch = new AttributeCompressor().CreateReportBatch();
        batch.TryAdd(Record(withUser: true)).ShouldBeTrue();

        batch.TryAdd(Record()).ShouldBeFalse();
        batch.TryAdd(new Attributes().SetString("destination.service", "a.svc")).ShouldBeFalse();
        batch.TryAdd(new AttributeRecord(new AttributeLayout(["destination.service"]))).ShouldBeFalse();
        batch.Count.ShouldBe(1);

        batch.Build();
        batch.TryAdd(new Attributes().SetString("destination.service", "a.svc")).ShouldBeTrue();
        batch.TryAdd(Record()).ShouldBeFalse();
    }

    [Fact]
    public async Task Batcher_MixedMessagesAndRecords_DeliversEverySetAsAdded_AndHandsEachRecordBackOnce()
    {
        var sent = new ConcurrentQueue<ReportRequest>();
        var released = new ConcurrentQueue<AttributeRecord>();
        var expected = new List<string>();
        await using (var batcher = new ReportBatcher((r, _) => { sent.Enqueue(r); return Task.CompletedTask; }, new AttributeCompressor(), new ReportBatchOptions { MaxSetsPerBatch = 3, MaxDelay = TimeSpan.FromMilliseconds(20) }))
        {
            for (var i = 0; i < 12; i++)
            {
                if (i % 5 == 4)
                {
                    var message = new Attributes().SetString("connection.id", "c" + i);
                    expected.Add(Canonical(message));
                    batcher.Enqueue(message).ShouldBeTrue();
                    continue;
                }

                var record = Record(id: i.ToString(System.Globalization.CultureInfo.InvariantCulture), size: i, withUser: i % 3 == 0);
                record.Released = released.Enqueue;
                expected.Add(Canonical(record.ToAttributes()));
                batcher.Enqueue(record).ShouldBeTrue();
            }

            await batcher.WhenIdleAsync().WaitAsync(TimeSpan.FromSeconds(10));
            batcher.SentSets.ShouldBe(12);
        }

        sent.SelectMany(ServerSees).ToList().ShouldBe(expected);
        released.Count.ShouldBe(10);
        released.Distinct(ReferenceEqualityComparer.Instance).Count().ShouldBe(10);
    }

    [Fact]
    public async Task MixerClient_CheckOfARecord_AsksMixerWithItsAttributesOnce_ThenAnswersFromTheCache()
    {
        var mixer = new FakeMixer
        {
            Answer = _ => new CheckResponse
            {
                Precondition = Answer(0, CheckCacheTests.Referenced(("destination.service", null, Condition.Exact))),
            },
        };
        await using var client = new MixerClient(mixer);

        var first = await client.CheckAsync(Record(id: "req-1", clnt: "client-abc"));
        var second = await client.CheckAsync(Record(id: "req-2"));

        first.IsOk.ShouldBeTrue();
        first.CheckCacheHit.ShouldBeFalse();
        second.CheckCacheHit.ShouldBeTrue();
        mixer.Checks.Count.ShouldBe(1);
        var words = mixer.Checks[0].Attributes.Words;
        words.ShouldContain("req-1");
        words.ShouldContain("client-abc");
        client.CheckCache!.Misses.ShouldBe(1);
        client.CheckCache.Hits.ShouldBe(1);
    }

    [Fact]
    public void QuotaCache_RecordSpendsTheAllowanceItsMessageFormEarned()
    {
        var quotas = new QuotaCache(new QuotaPrefetchOptions(), _time);
        var result = new CheckResponse.Types.QuotaResult
        {
            GrantedAmount = 10,
            ValidDuration = Duration.FromTimeSpan(TimeSpan.FromMinutes(1)),
            ReferencedAttributes = CheckCacheTests.Referenced(("destination.service", null, Condition.Exact)),
        };
        quotas.Complete(Record().ToAttributes(), "requestcount", 1, result).ShouldBeTrue();

        quotas.TryTake(Record(id: "9"), new QuotaRequest("requestcount", 1), out _).ShouldBe(QuotaDecision.Granted);
        quotas.TryTake(Record(service: "b.svc"), new QuotaRequest("requestcount", 1), out _).ShouldBe(QuotaDecision.Unknown);
    }

    // Every set the server's decoder (the SDK's ReportBatch) gets back, canonical.
    private static List<string> ServerSees(ReportRequest request)
    {
        ReportBatch.TryCreate(ReportRequest.Parser.ParseFrom(request.ToByteArray()), out var batch, out var error).ShouldBeTrue(error);
        var seen = new List<string>();
        foreach (var bag in batch.Bags())
        {
            seen.Add(string.Join(" | ", bag.Names.Order(StringComparer.Ordinal).Select(n => bag.TryGet(n, out var v) ? $"{n}={v}" : n)));
        }

        return seen;
    }

    // What the server sees for a message sent alone, through the message path: the reference.
    private static string Canonical(Attributes a)
    {
        var batch = new AttributeCompressor().CreateReportBatch();
        batch.TryAdd(a).ShouldBeTrue();
        return ServerSees(batch.Build()).Single();
    }
}
