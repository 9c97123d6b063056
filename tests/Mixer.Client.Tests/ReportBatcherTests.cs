using System.Collections.Concurrent;
using Istio.Mixer.V1;
using Mixer.Client;
using Mixer.Sdk;

namespace Mixer.Client.Tests;

public sealed class ReportBatcherTests
{
    private static Attributes Set(int i) => new Attributes()
        .SetString("destination.service", "reviews.default.svc.cluster.local")
        .SetInt64("response.code", 200 + (i % 3))
        .SetString("request.path", "/items/" + i);

    [Fact]
    public async Task Enqueue_MoreSetsThanABatchHolds_SendsFullBatchesThenTheRest()
    {
        var sent = new ConcurrentQueue<ReportRequest>();
        await using (var batcher = new ReportBatcher((r, _) => { sent.Enqueue(r); return Task.CompletedTask; }, new AttributeCompressor(), new ReportBatchOptions { MaxSetsPerBatch = 100, MaxDelay = TimeSpan.FromSeconds(30) }))
        {
            for (var i = 0; i < 250; i++)
            {
                batcher.Enqueue(Set(i)).ShouldBeTrue();
            }

            await Until(() => sent.Count >= 2);
        }

        // Two full batches by size; the last 50 go out when the batcher stops.
        sent.Select(r => r.Attributes.Count).ShouldBe([100, 100, 50]);
        sent.ShouldAllBe(r => r.RepeatedAttributesSemantics == ReportRequest.Types.RepeatedAttributesSemantics.DeltaEncoding);
    }

    [Fact]
    public async Task Enqueue_FewSets_AreSentTogetherAfterTheDelay_AndDecodeToWhatWasQueued()
    {
        var sent = new ConcurrentQueue<ReportRequest>();
        await using var batcher = new ReportBatcher((r, _) => { sent.Enqueue(r); return Task.CompletedTask; }, new AttributeCompressor(), new ReportBatchOptions { MaxDelay = TimeSpan.FromMilliseconds(200) });
        for (var i = 0; i < 5; i++)
        {
            batcher.Enqueue(Set(i));
        }

        await batcher.WhenIdleAsync().WaitAsync(TimeSpan.FromSeconds(10));

        var request = sent.ShouldHaveSingleItem();
        ReportBatch.TryCreate(request, out var batch, out var error).ShouldBeTrue(error);
        var paths = batch.Bags().Select(b => b.TryGet("request.path", out var v) ? v.AsString : "-").ToList();
        paths.ShouldBe(Enumerable.Range(0, 5).Select(i => "/items/" + i).ToList());

        batcher.SentSets.ShouldBe(5);
        batcher.Requests.ShouldBe(1);
    }

    [Fact]
    public async Task Enqueue_BufferFull_DropsAndCountsWhatDoesNotFit()
    {
        var release = new TaskCompletionSource();
        var batcher = new ReportBatcher((_, _) => release.Task, new AttributeCompressor(), new ReportBatchOptions { MaxSetsPerBatch = 1, MaxPendingSets = 5 });
        var accepted = 0;
        for (var i = 0; i < 20; i++)
        {
            accepted += batcher.Enqueue(Set(i)) ? 1 : 0;
        }

        // The sender is stuck on the first batch: five wait in the buffer, at most one more is being sent.
        accepted.ShouldBeInRange(5, 6);
        batcher.Dropped.ShouldBe(20 - accepted);
        batcher.Enqueued.ShouldBe(accepted);
        release.SetResult();
        await batcher.DisposeAsync();
        batcher.SentSets.ShouldBe(accepted);
    }

    [Fact]
    public async Task Send_Failing_CountsTheSetsAsFailed()
    {
        await using var batcher = new ReportBatcher((_, _) => throw new InvalidOperationException("mixer down"), new AttributeCompressor(), new ReportBatchOptions { MaxDelay = TimeSpan.FromMilliseconds(10) });
        batcher.Enqueue(Set(1));
        batcher.Enqueue(Set(2));

        await batcher.WhenIdleAsync().WaitAsync(TimeSpan.FromSeconds(10));

        batcher.FailedSets.ShouldBe(2);
        batcher.SentSets.ShouldBe(0);
    }

    [Fact]
    public async Task Enqueue_SetWithAnEmptyValue_IsCountedAsDropped_AndTheOthersAreStillSent()
    {
        var sent = new ConcurrentQueue<ReportRequest>();
        await using var batcher = new ReportBatcher((r, _) => { sent.Enqueue(r); return Task.CompletedTask; }, new AttributeCompressor(), new ReportBatchOptions { MaxDelay = TimeSpan.FromMilliseconds(50) });
        var empty = Set(1);
        empty.Attributes_["request.size"] = new Attributes.Types.AttributeValue();

        batcher.Enqueue(Set(0));
        batcher.Enqueue(empty);
        batcher.Enqueue(Set(2));
        await batcher.WhenIdleAsync().WaitAsync(TimeSpan.FromSeconds(10));

        batcher.Invalid.ShouldBe(1);
        batcher.Dropped.ShouldBe(1);
        batcher.SentSets.ShouldBe(2);
        sent.Sum(r => r.Attributes.Count).ShouldBe(2);
    }

    [Fact]
    public async Task Released_EverySetIsHandedBackOnce_AndClearingItDoesNotChangeWhatIsSent()
    {
        var sent = new ConcurrentQueue<ReportRequest>();
        var released = new ConcurrentQueue<Attributes>();
        var options = new ReportBatchOptions
        {
            MaxSetsPerBatch = 4,
            MaxDelay = TimeSpan.FromMilliseconds(50),
            Released = set =>
            {
                // What a pool does: empty the set to fill it again.
                set.Attributes_.Clear();
                released.Enqueue(set);
            },
        };
        var sets = Enumerable.Range(0, 10).Select(Set).ToList();
        await using (var batcher = new ReportBatcher((r, _) => { sent.Enqueue(r); return Task.CompletedTask; }, new AttributeCompressor(), options))
        {
            foreach (var set in sets)
            {
                batcher.Enqueue(set);
            }

            await batcher.WhenIdleAsync().WaitAsync(TimeSpan.FromSeconds(10));
        }

        // By reference: emptied sets are all equal as messages.
        released.Distinct(ReferenceEqualityComparer.Instance).Count().ShouldBe(10);
        released.ShouldAllBe(s => sets.Any(o => ReferenceEquals(o, s)));
        var paths = new List<string>();
        foreach (var request in sent)
        {
            ReportBatch.TryCreate(request, out var batch, out var error).ShouldBeTrue(error);
            paths.AddRange(batch.Bags().Select(b => b.TryGet("request.path", out var v) ? v.AsString : "-"));
        }

        paths.ShouldBe(Enumerable.Range(0, 10).Select(i => "/items/" + i).ToList());
    }

    private static async Task Until(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!condition() && DateTime.UtcNow < deadline)
        {
            await Task.Delay(10);
        }

        condition().ShouldBeTrue();
    }
}
