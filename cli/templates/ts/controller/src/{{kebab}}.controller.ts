// /{{kebab}}: an HTTP controller (spec 2.5). List it in a module's `controllers` and serve the app
// with `app.listen(port)`; its constructor gets the module's providers injected.
import { Body, Controller, Delete, Get, Module, NotFoundException, Param, Post, Query } from '@omnitron-dev/native';

export interface {{pascal}} {
  id: number;
  name: string;
}

@Controller('{{kebab}}')
export class {{pascal}}Controller {
  private readonly items = new Map<number, {{pascal}}>();
  private next = 1;

  @Get()
  list(@Query('limit') limit?: string): {{pascal}}[] {
    const all = [...this.items.values()];
    return limit === undefined ? all : all.slice(0, Number(limit));
  }

  @Get(':id')
  one(@Param('id') id: string): {{pascal}} {
    const item = this.items.get(Number(id));
    if (item === undefined) throw new NotFoundException(`no {{kebab}} ${id}`);
    return item;
  }

  // A POST answers 201.
  @Post()
  create(@Body() body: { name: string }): {{pascal}} {
    const item = { id: this.next++, name: body.name };
    this.items.set(item.id, item);
    return item;
  }

  // Nothing returned: 204.
  @Delete(':id')
  remove(@Param('id') id: string): void {
    if (!this.items.delete(Number(id))) throw new NotFoundException(`no {{kebab}} ${id}`);
  }
}

/** The controller in a module of its own: import it into your AppModule. */
@Module({ controllers: [{{pascal}}Controller] })
export class {{pascal}}Module {}
