using Mixer.Testing;

namespace Mixer.Server.Tests;

/// <summary>One real mixs process shared by the tests of a class.</summary>
public sealed class MixsFixture : IAsyncLifetime
{
    public MixsProcess Mixs { get; private set; } = null!;

    public async Task InitializeAsync() => Mixs = await MixsProcess.StartAsync(extraArgs: ["--maxMessageSize", "65536"]);

    public async Task DisposeAsync() => await Mixs.DisposeAsync();
}
