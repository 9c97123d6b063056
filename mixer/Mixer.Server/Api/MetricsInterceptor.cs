using System.Diagnostics;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Prometheus;

namespace Mixer.Server.Api;

/// <summary>
/// Counts every call by method and status and times it, with the metric names of
/// go-grpc-prometheus, which Istio's Mixer exported (so existing dashboards keep working).
/// </summary>
internal sealed class MetricsInterceptor : Interceptor
{
    private static readonly Counter s_started = Metrics.CreateCounter(
        "grpc_server_started_total", "gRPC calls started on the server.", "grpc_type", "grpc_service", "grpc_method");

    private static readonly Counter s_handled = Metrics.CreateCounter(
        "grpc_server_handled_total", "gRPC calls completed on the server, by status code.", "grpc_type", "grpc_service", "grpc_method", "grpc_code");

    private static readonly Histogram s_latency = Metrics.CreateHistogram(
        "grpc_server_handling_seconds", "Time to handle a gRPC call on the server.",
        new HistogramConfiguration
        {
            LabelNames = ["grpc_type", "grpc_service", "grpc_method"],
            Buckets = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
        });

    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(
        TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        var (service, method) = Split(context.Method);
        s_started.WithLabels("unary", service, method).Inc();
        var start = Stopwatch.GetTimestamp();
        var code = StatusCode.OK;
        try
        {
            return await continuation(request, context).ConfigureAwait(false);
        }
        catch (RpcException e)
        {
            code = e.StatusCode;
            throw;
        }
        catch (OperationCanceledException) when (context.CancellationToken.IsCancellationRequested)
        {
            code = StatusCode.Cancelled;
            throw;
        }
        catch
        {
            code = StatusCode.Unknown;
            throw;
        }
        finally
        {
            s_handled.WithLabels("unary", service, method, CodeName(code)).Inc();
            s_latency.WithLabels("unary", service, method).Observe(Stopwatch.GetElapsedTime(start).TotalSeconds);
        }
    }

    /// <summary>Counts a call that failed before reaching the handler (e.g. an undecodable message).</summary>
    public static void CountRejected(string fullMethod, StatusCode code)
    {
        var (service, method) = Split(fullMethod);
        s_started.WithLabels("unary", service, method).Inc();
        s_handled.WithLabels("unary", service, method, CodeName(code)).Inc();
    }

    private static (string Service, string Method) Split(string fullMethod)
    {
        // "/istio.mixer.v1.Mixer/Check"
        var slash = fullMethod.LastIndexOf('/');
        return slash > 0 ? (fullMethod[1..slash], fullMethod[(slash + 1)..]) : ("unknown", fullMethod);
    }

    private static string CodeName(StatusCode code) => code switch
    {
        StatusCode.OK => "OK",
        StatusCode.Cancelled => "Canceled",
        StatusCode.InvalidArgument => "InvalidArgument",
        StatusCode.DeadlineExceeded => "DeadlineExceeded",
        StatusCode.NotFound => "NotFound",
        StatusCode.AlreadyExists => "AlreadyExists",
        StatusCode.PermissionDenied => "PermissionDenied",
        StatusCode.ResourceExhausted => "ResourceExhausted",
        StatusCode.FailedPrecondition => "FailedPrecondition",
        StatusCode.Aborted => "Aborted",
        StatusCode.OutOfRange => "OutOfRange",
        StatusCode.Unimplemented => "Unimplemented",
        StatusCode.Internal => "Internal",
        StatusCode.Unavailable => "Unavailable",
        StatusCode.DataLoss => "DataLoss",
        StatusCode.Unauthenticated => "Unauthenticated",
        _ => "Unknown",
    };
}
