using Istio.Mixer.V1;
using Mixer.Sdk;
using StringMap = Istio.Mixer.V1.StringMap;

namespace Mixer.Sdk.Tests;

/// <summary>What a ProtoBag records as it is read: the raw material of a Check's referenced_attributes.</summary>
public sealed class ReferenceTrackerTests
{
    // request.method=GET, response.code=200, request.headers={user-agent: curl}
    private static (ProtoBag Bag, ReferenceTracker Tracker) Request()
    {
        var tracker = new ReferenceTracker();
        var bag = ProtoBagTests.Bag(
            new CompressedAttributes
            {
                Words = { "curl" },
                Strings = { [19] = 90 },
                Int64S = { [30] = 200 },
                StringMaps = { [15] = new StringMap { Entries = { [86] = -1 } } },
            },
            tracker: tracker);
        return (bag, tracker);
    }

    [Fact]
    public void Lookup_PresentAttribute_IsRecordedExact()
    {
        var (bag, tracker) = Request();

        bag.TryGet("request.method", out _);
        bag.TryGet(AttributeName.Of("response.code"), out _);

        tracker.References.ShouldBe([
            new AttributeReference("request.method", null, ReferenceKind.Exact),
            new AttributeReference("response.code", null, ReferenceKind.Exact),
        ]);
    }

    [Fact]
    public void Lookup_AbsentAttribute_IsRecordedAbsence()
    {
        var (bag, tracker) = Request();

        bag.TryGet("source.namespace", out _).ShouldBeFalse();
        bag.TryGet(AttributeName.Of("destination.service"), out _).ShouldBeFalse();

        tracker.References.ShouldBe([
            new AttributeReference("source.namespace", null, ReferenceKind.Absence),
            new AttributeReference("destination.service", null, ReferenceKind.Absence),
        ]);
    }

    [Fact]
    public void MapKeyLookup_IsRecordedPerKey_PresentExactAbsentAbsence()
    {
        var (bag, tracker) = Request();
        var headers = AttributeName.Of("request.headers");

        bag.TryGetMapValue(headers, "user-agent", out _).ShouldBeTrue();
        bag.TryGetMapValue(headers, "x-user", out _).ShouldBeFalse();

        tracker.References.ShouldBe([
            new AttributeReference("request.headers", "user-agent", ReferenceKind.Exact),
            new AttributeReference("request.headers", "x-user", ReferenceKind.Absence),
        ]);
        tracker.WholeMaps.ShouldBeEmpty();
    }

    [Fact]
    public void MapKeyLookup_OnAnAbsentMap_RecordsTheMapAbsent()
    {
        var (bag, tracker) = Request();

        bag.TryGetMapValue(AttributeName.Of("source.labels"), "app", out _).ShouldBeFalse();

        tracker.References.ShouldBe([new AttributeReference("source.labels", null, ReferenceKind.Absence)]);
    }

    [Fact]
    public void WholeMapRead_IsKeptAsTheMapSeen_NotAsANameOnlyMatch()
    {
        var (bag, tracker) = Request();

        bag.TryGet("request.headers", out _).ShouldBeTrue();

        tracker.References.ShouldBeEmpty();
        tracker.WholeMaps.Keys.ShouldBe(["request.headers"]);
        tracker.WholeMaps["request.headers"].TryGetValue("user-agent", out var agent).ShouldBeTrue();
        agent.ShouldBe("curl");
    }

    [Fact]
    public void RollBack_ForgetsWhatCameAfterTheMark()
    {
        var (bag, tracker) = Request();
        bag.TryGet("request.method", out _);
        var mark = tracker.Count;
        bag.TryGet("response.code", out _);
        bag.TryGet("nope", out _);

        tracker.RollBack(mark);

        tracker.References.ShouldBe([new AttributeReference("request.method", null, ReferenceKind.Exact)]);
    }

    [Fact]
    public void Bag_WithoutTracker_ReadsTheSame()
    {
        var bag = ProtoBagTests.Bag(new CompressedAttributes { Int64S = { [30] = 200 } });

        bag.TryGet("response.code", out var code).ShouldBeTrue();
        code.AsInt64.ShouldBe(200);
        bag.Tracker.ShouldBeNull();
    }
}
