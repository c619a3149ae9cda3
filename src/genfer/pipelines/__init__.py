"""Photo-to-result pipelines behind the generative commands.

``genfer.pipelines.neutralize``: PF-ViT poker faces (``Neutralizer``, behind ``genfer neutralize``);
``genfer.pipelines.transfer``: switch-unit GAN expression transfer (``ExpressionTransfer``, behind
``genfer transfer``).
"""
