using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Istio.Mixer.V1;
using Mixer.Client;
using Condition = Istio.Mixer.V1.ReferencedAttributes.Types.Condition;

namespace Mixer.Client.Tests;

/// <summary>A Mixer that answers Check with <see cref="Answer"/> (or throws it), counting calls.</summary>
internal sealed class FakeMixer : Istio.Mixer.V1.Mixer.MixerClient
{
    public Func<CheckRequest, CheckResponse> Answer { get; set; } = _ => new CheckResponse();

    public List<CheckRequest> Checks { get; } = [];

    public int Reports { get; private set; }

    public override AsyncUnaryCall<CheckResponse> CheckAsync(CheckRequest request, CallOptions options)
    {
        lock (Checks)
        {
            Checks.Add(request);
        }

        return Call(() => Answer(request));
    }

    public override AsyncUnaryCall<ReportResponse> ReportAsync(ReportRequest request, CallOptions options)
    {
        Reports++;
        return Call(() => new ReportResponse());
    }

    private static AsyncUnaryCall<T> Call<T>(Func<T> answer)
    {
        Task<T> task;
        try
        {
            task = Task.FromResult(answer());
        }
        catch (RpcException e)
        {
            task = Task.FromException<T>(e);
        }

        return new AsyncUnaryCall<T>(task, Task.FromResult(new Metadata()), () => Status.DefaultSuccess, () => [], () => { });
    }
}

public sealed class MixerClientTests
{
    private static readonly Attributes s_request = new Attributes().SetString("destination.service", "a.svc");

    private static CheckResponse Ok(int code = 0, string message = "") => new()
    {
        Precondition = new CheckResponse.Types.PreconditionResult
        {
            Status = new Google.Rpc.Status { Code = code, Message = message },
            ValidDuration = Duration.FromTimeSpan(TimeSpan.FromMinutes(1)),
            ValidUseCount = 100,
            ReferencedAttributes = CheckCacheTests.Referenced(("destination.service", null, Condition.Exact)),
        },
    };

    private static MixerClient Client(FakeMixer mixer, NetworkFailPolicy policy = NetworkFailPolicy.FailOpen) =>
        new(mixer, new MixerClientOptions { NetworkFailPolicy = policy, RetryBackoff = TimeSpan.FromMilliseconds(1) });

    [Fact]
    public async Task Check_SameRequestTwice_CallsMixerOnce()
    {
        var mixer = new FakeMixer { Answer = _ => Ok() };
        await using var client = Client(mixer);

        (await client.CheckAsync(s_request)).CheckCacheHit.ShouldBeFalse();
        var second = await client.CheckAsync(s_request);

        second.IsOk.ShouldBeTrue();
        second.CheckCacheHit.ShouldBeTrue();
        mixer.Checks.Count.ShouldBe(1);
    }

    [Fact]
    public async Task Check_AnswerNearlySpent_IsRefreshedInTheBackground_SoLaterRequestsStillHit()
    {
        var mixer = new FakeMixer { Answer = _ => Ok() };
        await using var client = Client(mixer);

        // Ok() allows 100 uses: the first call asks Mixer, the next 100 are hits, and near the end
        // of them one background Check renews the answer, so hit 101 and on still need no wait.
        for (var i = 0; i < 150; i++)
        {
            var result = await client.CheckAsync(s_request);
            (i == 0 || result.CheckCacheHit).ShouldBeTrue($"call {i} missed the cache");
        }

        mixer.Checks.Count.ShouldBe(2);
    }

    [Fact]
    public async Task Check_DenialIsCachedToo()
    {
        var mixer = new FakeMixer { Answer = _ => Ok(7, "nope") };
        await using var client = Client(mixer);
        await client.CheckAsync(s_request);

        var second = await client.CheckAsync(s_request);

        second.Status.Code.ShouldBe(7);
        second.Status.Message.ShouldBe("nope");
        mixer.Checks.Count.ShouldBe(1);
    }

    [Fact]
    public async Task Check_MixerUnreachable_FailOpenLetsThrough_AfterRetries()
    {
        var mixer = new FakeMixer { Answer = _ => throw new RpcException(new Status(StatusCode.Unavailable, "connection refused")) };
        await using var client = Client(mixer);

        var result = await client.CheckAsync(s_request);

        result.IsOk.ShouldBeTrue();
        result.FailedOpen.ShouldBeTrue();
        mixer.Checks.Count.ShouldBe(3);
        mixer.Checks.Select(c => c.DeduplicationId).Distinct().Count().ShouldBe(1);
    }

    [Fact]
    public async Task Check_MixerUnreachable_FailCloseRefusesWithTheTransportStatus()
    {
        var mixer = new FakeMixer { Answer = _ => throw new RpcException(new Status(StatusCode.Unavailable, "connection refused")) };
        await using var client = Client(mixer, NetworkFailPolicy.FailClose);

        var result = await client.CheckAsync(s_request);

        result.IsOk.ShouldBeFalse();
        result.Status.Code.ShouldBe((int)StatusCode.Unavailable);
        result.Status.Message.ShouldBe("connection refused");
    }

    [Fact]
    public async Task Check_AnsweredInternal_FailsOpenAndIsNotCached()
    {
        var mixer = new FakeMixer { Answer = _ => Ok(13, "preprocessing attributes failed") };
        await using var client = Client(mixer);

        (await client.CheckAsync(s_request)).FailedOpen.ShouldBeTrue();
        (await client.CheckAsync(s_request)).FailedOpen.ShouldBeTrue();
        mixer.Checks.Count.ShouldBe(2);
    }

    [Fact]
    public async Task Check_WithQuota_AsksBestEffortPrefetch_ThenSpendsLocally()
    {
        var mixer = new FakeMixer();
        mixer.Answer = request =>
        {
            var response = Ok();
            foreach (var (name, q) in request.Quotas)
            {
                response.Quotas[name] = new CheckResponse.Types.QuotaResult
                {
                    GrantedAmount = q.Amount,
                    ValidDuration = Duration.FromTimeSpan(TimeSpan.FromMinutes(1)),
                    ReferencedAttributes = CheckCacheTests.Referenced(("destination.service", null, Condition.Exact)),
                };
            }

            return response;
        };
        await using var client = Client(mixer);
        QuotaRequest[] quotas = [new("requestcount", 1)];

        for (var i = 0; i < 5; i++)
        {
            (await client.CheckAsync(s_request, quotas)).IsOk.ShouldBeTrue();
        }

        var first = mixer.Checks[0].Quotas["requestcount"];
        first.Amount.ShouldBe(10);
        first.BestEffort.ShouldBeTrue();
        mixer.Checks.Count.ShouldBeLessThanOrEqualTo(2);
    }

    [Fact]
    public async Task Check_QuotaGrantedShort_IsResourceExhaustedNamingTheQuota()
    {
        var mixer = new FakeMixer();
        mixer.Answer = _ =>
        {
            var response = Ok();
            response.Quotas["requestcount"] = new CheckResponse.Types.QuotaResult { GrantedAmount = 0, ValidDuration = new Duration() };
            return response;
        };
        await using var client = Client(mixer);

        var result = await client.CheckAsync(s_request, [new QuotaRequest("requestcount", 1)]);

        result.Status.Code.ShouldBe((int)StatusCode.ResourceExhausted);
        result.Status.Message.ShouldBe("Quota is exhausted for: requestcount");
    }
}
