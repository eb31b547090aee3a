// Omnitron's Node controllers serving the benchmark's two routes (see peers.ts), written as a user
// would: a controller class, a class-validator-style DTO checked by core before the handler runs.
// `node dist/omnitron.js <port>`; one process.

import { Body, Controller, Get, IsEmail, IsInt, IsString, Length, Max, Min, Module, Omnitron, Param, Post } from '@omnitron-dev/native';

const port = Number(process.argv[2]);

class CreateUserDto {
  @IsString() @Length(1, 100) name!: string;
  @IsEmail() email!: string;
  @IsInt() @Min(0) @Max(150) age!: number;
}

@Controller('users')
class UsersController {
  @Get(':id')
  findOne(@Param('id') id: string) {
    return { id, name: 'Ada Lovelace', active: true };
  }

  @Post()
  create(@Body() dto: CreateUserDto) {
    return { ...dto, id: 1 };
  }
}

@Module({ controllers: [UsersController] })
class AppModule {}

async function main(): Promise<void> {
  // As the peers run: no security headers (none of them sets any), the rest as defaults.
  const app = await Omnitron.create(AppModule, { http: { securityHeaders: false } });
  await app.listen(port, '127.0.0.1');
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
